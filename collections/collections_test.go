package collections

import (
	"strings"
	"testing"
	"testing/fstest"

	"github.com/patchnight/patchnight/pkg/exit"
)

func TestLoadEmbedded(t *testing.T) {
	t.Parallel()
	s, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	rules := map[Rule]bool{}
	for _, f := range s.Families {
		rules[f.Rule] = true
		if f.Description == "" || f.File == "" {
			t.Errorf("family %s lacks a description or file", f.Name)
		}
	}
	for r := range ruleSpecs() {
		if !rules[r] {
			t.Errorf("no embedded family uses rule %s", r)
		}
	}
	mu := s.Get("missing-update")
	if mu == nil || !mu.Uses("Month") || !mu.Uses("Update") || mu.Membership() != Query {
		t.Fatalf("missing-update: %+v", mu)
	}
	name, err := mu.RenderName(Values{Update: "KB5071234", ArticleID: "5071234", Month: "2026-12"})
	if err != nil || name != "patchnight - Missing KB5071234 (2026-12)" {
		t.Fatalf("name = %q, %v", name, err)
	}
	sb := s.Get("scan-behind")
	if sb == nil || len(sb.Variants) != 4 || sb.Membership() != Direct || sb.Refresh.Type != RefreshManual {
		t.Fatalf("scan-behind: %+v", sb)
	}
	if s.Get("needs-attention").Membership() != Manual {
		t.Fatal("needs-attention is not manual")
	}
}

func ruleSpecs() map[Rule]ruleSpec { return rules }

// family is a valid family; tests change one line.
const family = `families:
  - family: t
    description: test
    rule: logged-on
    name: "T {{.Month}}"
    comment: "c"
    limiting_collection: SMS00001
    refresh:
      type: periodic
      every: 12h
    folder: /a/b
    sql: night_logged_on
`

func TestParseRefuses(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, from, to, msg string
	}{
		{"unknown key", "    folder: /a/b\n", "    folder: /a/b\n    colour: red\n", "colour"},
		{"unknown placeholder", "{{.Month}}", "{{.Title}}", "unknown placeholder {{.Title}}"},
		{"placeholder of another rule", "{{.Month}}", "{{.Update}}", "unknown placeholder {{.Update}}"},
		{"pipeline", "{{.Month}}", "{{.Month | len}}", "not a plain placeholder"},
		{"function call", "{{.Month}}", "{{len .Month}}", "not a plain placeholder"},
		{"variable", "{{.Month}}", "{{$x := .Month}}", "not a plain placeholder"},
		{"if", "{{.Month}}", "{{if .Month}}x{{end}}", "not allowed"},
		{"nested field", "{{.Month}}", "{{.Month.X}}", "not a plain placeholder"},
		{"template syntax", "{{.Month}}", "{{.Month", "name template"},
		{"bad rule", "rule: logged-on", "rule: everything", "is not one of"},
		{"bad family name", "family: t", "family: T!", "family name"},
		{"bad limit", "SMS00001", "ALL'SYSTEMS", "not a CollectionID"},
		{"bad folder", "/a/b", `a\b`, "folder"},
		{"bad refresh type", "type: periodic", "type: sometimes", "refresh.type"},
		{"bad refresh interval", "every: 12h", "every: 90m", "refresh.every"},
		{"too many hours", "every: 12h", "every: 30h", "at most 23 hours"},
		{"every on manual", "type: periodic", "type: manual", "applies only to periodic"},
		{"unknown sql twin", "sql: night_logged_on", "sql: no_such_query", "not in queries"},
		{"no sql twin", "    sql: night_logged_on\n", "", "name the SQL twin"},
		{"variants on a rule without", "    sql: night_logged_on\n", "    sql: night_logged_on\n    variants:\n      - key: behind\n", "has no variants"},
		{"owner tag in comment", `comment: "c"`, `comment: "c [patchnight:x:y]"`, "owner tag"},
		{"name too long", `"T {{.Month}}"`, `"` + strings.Repeat("x", 125) + ` {{.Month}}"`, "over the limit"},
		{"wildcard in name", `"T {{.Month}}"`, `"T* {{.Month}}"`, "* ? [ ]"},
		{"empty name", `"T {{.Month}}"`, `""`, "empty"},
		{"newline in name", `"T {{.Month}}"`, `"T\n{{.Month}}"`, "control character"},
	} {
		if !strings.Contains(family, tc.from) {
			t.Fatalf("%s: %q is not in the base family", tc.name, tc.from)
		}
		_, err := Parse("t.yaml", []byte(strings.Replace(family, tc.from, tc.to, 1)))
		if err == nil || exit.Code(err) != exit.Usage || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: got %v, want a usage error with %q", tc.name, err, tc.msg)
		}
	}
	if _, err := Parse("t.yaml", []byte(family)); err != nil {
		t.Fatalf("base family: %v", err)
	}
}

func TestParseRuleSpecific(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, yaml, msg string
	}{
		{"missing-update without the update in the name", `families:
  - family: m
    rule: missing-update
    name: "Missing ({{.Month}})"
    comment: c
    sql: collection_missing_update
`, "{{.Update}}"},
		{"scan-behind without variants", `families:
  - family: s
    rule: scan-behind
    name: "Scan {{.Variant}}"
    comment: c
    sql: scanbehind_members
`, "needs variants"},
		{"several variants without the variant in the name", `families:
  - family: s
    rule: scan-behind
    name: "Scan"
    comment: c
    sql: scanbehind_members
    variants: [{key: behind}, {key: never}]
`, "{{.Variant}}"},
		{"unknown variant", `families:
  - family: s
    rule: scan-behind
    name: "Scan {{.Variant}}"
    comment: c
    sql: scanbehind_members
    variants: [{key: sideways}]
`, "is not one of"},
		{"variant label making the name too long", `families:
  - family: s
    rule: scan-behind
    name: "Scan {{.Variant}}"
    comment: c
    sql: scanbehind_members
    variants: [{key: behind, label: "` + strings.Repeat("v", 130) + `"}]
`, "over the limit"},
	} {
		_, err := Parse("t.yaml", []byte(tc.yaml))
		if err == nil || exit.Code(err) != exit.Usage || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: got %v, want %q", tc.name, err, tc.msg)
		}
	}
}

func TestLoadFSDuplicateFamily(t *testing.T) {
	t.Parallel()
	fsys := fstest.MapFS{"a.yaml": {Data: []byte(family)}, "b.yaml": {Data: []byte(family)}}
	_, err := LoadFS(fsys)
	if err == nil || !strings.Contains(err.Error(), "defined in a.yaml and again in b.yaml") {
		t.Fatalf("duplicate family: %v", err)
	}
}

func TestRefresh(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		typ, every string
		want       Refresh
		str        string
	}{
		{"", "", Refresh{Type: RefreshPeriodic, Days: 1}, "periodic every 1d"},
		{"both", "7d", Refresh{Type: RefreshBoth, Days: 7}, "both every 7d"},
		{"Periodic", "12h", Refresh{Type: RefreshPeriodic, Hours: 12}, "periodic every 12h"},
		{"continuous", "", Refresh{Type: RefreshContinuous}, "continuous"},
		{"manual", "", Refresh{Type: RefreshManual}, "manual"},
	} {
		got, err := parseRefresh(refreshDoc{Type: tc.typ, Every: tc.every})
		if err != nil || got != tc.want || got.String() != tc.str {
			t.Errorf("refresh %q %q = %+v %q, %v", tc.typ, tc.every, got, got.String(), err)
		}
	}
}

func TestOwnerTag(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		comment, family, key string
		ok                   bool
	}{
		{"Machines missing KB1. [patchnight:missing-update:2026-12/KB1]", "missing-update", "2026-12/KB1", true},
		{"x [patchnight:logged-on]", "logged-on", "", true},
		{"x [patchnight:logged-on]  ", "logged-on", "", true},
		{"[patchnight:logged-on] edited after", "", "", false},
		{"no tag", "", "", false},
		{"[patchnight:Bad]", "", "", false},
		{"[patchnight:x:has space]", "", "", false},
	} {
		f, k, ok := ParseOwnerTag(tc.comment)
		if ok != tc.ok || f != tc.family || k != tc.key {
			t.Errorf("ParseOwnerTag(%q) = %q %q %v", tc.comment, f, k, ok)
		}
		if ok {
			if f2, k2, _ := ParseOwnerTag("c " + OwnerTag(f, k)); f2 != f || k2 != k {
				t.Errorf("round trip of %q", tc.comment)
			}
		}
	}
}

func FuzzParseOwnerTag(f *testing.F) {
	f.Add("x [patchnight:missing-update:2026-12/KB1]")
	f.Add("[patchnight:a]")
	f.Fuzz(func(t *testing.T, comment string) {
		fam, key, ok := ParseOwnerTag(comment)
		if !ok {
			return
		}
		if !familyNameRE.MatchString(fam) || !ValidKey(key) || !strings.HasSuffix(strings.TrimRight(comment, " \t\r\n\v\f"), OwnerTag(fam, key)) {
			t.Fatalf("ParseOwnerTag(%q) = %q, %q", comment, fam, key)
		}
	})
}
