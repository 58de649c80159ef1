package wql

import (
	"errors"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/patchnight/patchnight/pkg/exit"
)

// --- an independent WQL tokenizer for the tests -------------------------------------------
//
// It knows nothing of the escaper: words, numbers, punctuation and string literals in ' or
// ", where (in escape mode) a backslash takes the next character literally. A literal that
// does not end is an error. noEscape models the reading in which backslash is an ordinary
// character (as some sources say holds inside LIKE).

type ttok struct {
	str  bool
	text string
}

func testLex(t *testing.T, s string, noEscape bool) ([]ttok, bool) {
	t.Helper()
	var out []ttok
	rs := []rune(s)
	for i := 0; i < len(rs); {
		r := rs[i]
		switch {
		case r == ' ':
			i++
		case r == '"' || r == '\'':
			var b strings.Builder
			j := i + 1
			ok := false
			for j < len(rs) {
				if rs[j] == '\\' && !noEscape {
					if j+1 == len(rs) {
						break
					}
					b.WriteRune(rs[j+1])
					j += 2
					continue
				}
				if rs[j] == r {
					ok = true
					j++
					break
				}
				b.WriteRune(rs[j])
				j++
			}
			if !ok {
				return nil, false
			}
			out = append(out, ttok{true, b.String()})
			i = j
		case unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_':
			j := i
			for j < len(rs) && (unicode.IsLetter(rs[j]) || unicode.IsDigit(rs[j]) || rs[j] == '_') {
				j++
			}
			out = append(out, ttok{false, string(rs[i:j])})
			i = j
		default:
			out = append(out, ttok{false, string(r)})
			i++
		}
	}
	return out, true
}

// decodeLike reads a LIKE pattern written by LikeEscape back: [x] is the literal x, %
// and _ are wildcards (returned as \x00 and \x01), other characters stand for themselves.
func decodeLike(p string) (string, bool) {
	var b strings.Builder
	rs := []rune(p)
	for i := 0; i < len(rs); i++ {
		switch rs[i] {
		case '[':
			if i+2 >= len(rs) || rs[i+2] != ']' {
				return "", false
			}
			b.WriteRune(rs[i+1])
			i += 2
		case '%':
			b.WriteByte(0)
		case '_':
			b.WriteByte(1)
		default: // including a lone ], which only closes a set
			b.WriteRune(rs[i])
		}
	}
	return b.String(), true
}

func hasControl(s string) bool {
	for _, r := range s {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return true
		}
	}
	return false
}

// checkOneLiteral asserts that q holds exactly one string literal, equal to want, and ends
// with the tokens "and Client = 1" (so nothing escaped from the literal into the query).
func checkOneLiteral(t *testing.T, q, want string, noEscape bool) {
	t.Helper()
	toks, ok := testLex(t, q, noEscape)
	if !ok {
		t.Fatalf("query does not tokenize: %q", q)
	}
	var lits []string
	for _, tk := range toks {
		if tk.str {
			lits = append(lits, tk.text)
		}
	}
	if len(lits) != 1 || lits[0] != want {
		t.Fatalf("query %q: literals %q, want exactly [%q]", q, lits, want)
	}
	n := len(toks)
	if n < 4 || toks[n-4].text != "and" || toks[n-3].text != "Client" || toks[n-2].text != "=" || toks[n-1].text != "1" {
		t.Fatalf("query %q: tail changed: %v", q, toks)
	}
}

// --- fuzz targets ---------------------------------------------------------------------------

func FuzzEscapeString(f *testing.F) {
	for _, s := range []string{"", "a", `"`, `\`, `\"`, `" or 1=1 or "`, `DOMAIN\group`, "x\x00y", "'", `'"\`, "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		lit, err := String(s)
		if err != nil {
			if utf8.ValidString(s) && !hasControl(s) {
				t.Fatalf("String(%q) refused a valid value: %v", s, err)
			}
			return
		}
		checkOneLiteral(t, "select * from SMS_R_System where Name = "+lit+" and Client = 1", s, false)
		// The package's own lexer (used by Parse) must agree.
		toks, err := lex(lit)
		if err != nil || len(toks) != 1 || toks[0].kind != tokString || toks[0].text != s {
			t.Fatalf("lex(%q) = %v, %v", lit, toks, err)
		}
	})
}

func FuzzEscapeLike(f *testing.F) {
	f.Add("100%", true, false)
	f.Add("[_]", false, true)
	f.Add(`a"b`, true, true)
	f.Add(`a'b`, false, false)
	f.Add(`a'"b`, true, true)
	f.Add(`C:\Windows`, false, false)
	f.Fuzz(func(t *testing.T, s string, pre, suf bool) {
		lit, err := LikeLiteral(s, pre, suf)
		if err != nil {
			valid := utf8.ValidString(s) && !hasControl(s) && !strings.Contains(s, `\`) &&
				!(strings.Contains(s, `"`) && strings.Contains(s, "'"))
			if valid {
				t.Fatalf("LikeLiteral(%q) refused a valid value: %v", s, err)
			}
			return
		}
		// Nothing breaks out, whichever way a backslash is read inside LIKE.
		for _, noEscape := range []bool{false, true} {
			q := "select * from SMS_R_System where Name like " + lit + " and Client = 1"
			toks, ok := testLex(t, q, noEscape)
			if !ok {
				t.Fatalf("query does not tokenize (noEscape=%v): %q", noEscape, q)
			}
			var lits []string
			for _, tk := range toks {
				if tk.str {
					lits = append(lits, tk.text)
				}
			}
			if len(lits) != 1 {
				t.Fatalf("query %q: literals %q", q, lits)
			}
			got, ok := decodeLike(lits[0])
			if !ok {
				t.Fatalf("pattern %q does not decode", lits[0])
			}
			want := s
			if pre {
				want = "\x00" + want
			}
			if suf {
				want += "\x00"
			}
			if got != want {
				t.Fatalf("pattern %q decodes to %q, want %q", lits[0], got, want)
			}
		}
	})
}

func FuzzEscapeCollectionID(f *testing.F) {
	for _, s := range []string{"ABC00012", "sms00001", "SMSDM003", "ABC0001G", "ABC00012) or (1=1", "AB\"00012", "ABC000120"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := CollectionID(s)
		if err != nil {
			return
		}
		if len(id) != 8 || strings.Trim(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") != "" {
			t.Fatalf("CollectionID(%q) = %q, outside [A-Z0-9]{8}", s, id)
		}
		q, err := Rule{Kind: Enforcement, EnforcementState: 9, Include: []string{s}}.Query()
		if err != nil {
			t.Fatal(err)
		}
		toks, ok := testLex(t, q, false)
		if !ok {
			t.Fatalf("query does not tokenize: %q", q)
		}
		n := len(toks)
		if toks[n-2].text != "SMS_CM_RES_COLL_"+id || toks[n-1].text != ")" {
			t.Fatalf("query %q does not end in the collection class", q)
		}
	})
}

func FuzzEscapeUpdateID(f *testing.F) {
	for _, s := range []string{"4012212", "KB4012212", "MS17-010", "ms17-010", `4012212" or "1"="1`, "%", "40122_2", "MS17-010 or 1=1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, r := range []Rule{{Kind: MissingUpdate, ArticleID: s}, {Kind: MissingUpdate, BulletinID: s}} {
			q, err := r.Query()
			if err != nil {
				if exit.Code(err) != exit.Usage {
					t.Fatalf("Query error without usage code: %v", err)
				}
				continue
			}
			want := r.ArticleID
			if want == "" {
				want = strings.ToUpper(r.BulletinID)
			}
			if strings.ContainsAny(want, `"'\%_[*`) || strings.Contains(strings.ToLower(want), " or ") {
				t.Fatalf("validator let %q through", s)
			}
			checkOneLiteral(t, q+" and Client = 1", want, false)
			back, err := Parse(q)
			if err != nil {
				t.Fatalf("Parse(Query()) = %v for %q", err, q)
			}
			if back.ArticleID != r.ArticleID || back.BulletinID != strings.ToUpper(r.BulletinID) {
				t.Fatalf("Parse round trip: %+v from %+v", back, r)
			}
		}
	})
}

func FuzzParse(f *testing.F) {
	seeds := []Rule{
		{Kind: MissingUpdate, ArticleID: "5071234"},
		{Kind: MissingUpdate, BulletinID: "MS17-010", Include: []string{"ABC00012"}},
		{Kind: Enforcement, EnforcementState: 9, Exclude: []string{"SMS00001"}},
	}
	for _, r := range seeds {
		q, _ := r.Query()
		f.Add(q)
	}
	f.Add(`select * from SMS_R_System where Name = "x"`)
	f.Fuzz(func(t *testing.T, q string) {
		r, err := Parse(q)
		if err != nil {
			if !errors.Is(err, ErrUnrecognized) {
				t.Fatalf("Parse error is not ErrUnrecognized: %v", err)
			}
			return
		}
		back, err := r.Query()
		if err != nil || !Equivalent(back, q) {
			t.Fatalf("Parse(%q) = %+v, which writes %q (%v)", q, r, back, err)
		}
	})
}

// --- table tests ----------------------------------------------------------------------------

func TestString(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in, want string
		err      error
	}{
		{"4012212", `"4012212"`, nil},
		{`DOMAIN\group`, `"DOMAIN\\group"`, nil},
		{`say "hi"`, `"say \"hi\""`, nil},
		{`it's`, `"it's"`, nil},
		{"", `""`, nil},
		{"a\nb", "", ErrControl},
		{"a\x00b", "", ErrControl},
		{"\xfe", "", ErrEncoding},
	} {
		got, err := String(tc.in)
		if !errors.Is(err, tc.err) || got != tc.want {
			t.Errorf("String(%q) = %q, %v; want %q, %v", tc.in, got, err, tc.want, tc.err)
		}
	}
}

func TestLikeLiteral(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in       string
		pre, suf bool
		want     string
		err      error
	}{
		{"LT-", false, true, `"LT-%"`, nil},
		{"100%", true, true, `"%100[%]%"`, nil},
		{"a_b[c]", false, false, `"a[_]b[[]c]"`, nil},
		{`say "x"`, false, false, `'say "x"'`, nil},
		{`it's`, false, false, `"it's"`, nil},
		{`a'"b`, false, false, "", ErrLikeQuotes},
		{`C:\x`, false, false, "", ErrLikeBackslash},
		{"a\tb", false, false, "", ErrControl},
	} {
		got, err := LikeLiteral(tc.in, tc.pre, tc.suf)
		if !errors.Is(err, tc.err) || got != tc.want {
			t.Errorf("LikeLiteral(%q) = %q, %v; want %q, %v", tc.in, got, err, tc.want, tc.err)
		}
	}
}

func TestValidators(t *testing.T) {
	t.Parallel()
	ok := func(err error) bool { return err == nil }
	for _, tc := range []struct {
		name string
		fn   func(string) (string, error)
		in   string
		want string // "" = refused
	}{
		{"article", ArticleID, "4012212", "4012212"},
		{"article KB prefix", ArticleID, "KB4012212", ""},
		{"article quote", ArticleID, `4012212"`, ""},
		{"article wildcard", ArticleID, "40122%", ""},
		{"article keyword", ArticleID, "1 or 1", ""},
		{"article too long", ArticleID, "12345678901", ""},
		{"bulletin", BulletinID, "ms17-010", "MS17-010"},
		{"bulletin bad", BulletinID, "MS17-01", ""},
		{"bulletin backslash", BulletinID, `MS17\010`, ""},
		{"collection", CollectionID, "abc00012", "ABC00012"},
		{"collection builtin", CollectionID, "SMS00001", "SMS00001"},
		{"collection builtin DM", CollectionID, "SMSDM003", "SMSDM003"},
		{"collection non-hex", CollectionID, "ABC0001G", ""},
		{"collection short", CollectionID, "ABC0001", ""},
		{"collection injection", CollectionID, "ABC00012)", ""},
		{"site", SiteCode, "p01", "P01"},
		{"site bad", SiteCode, "P0-", ""},
	} {
		got, err := tc.fn(tc.in)
		if tc.want == "" {
			if ok(err) || exit.Code(err) != exit.Usage {
				t.Errorf("%s: %q accepted or wrong code: %q, %v", tc.name, tc.in, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s: %q = %q, %v; want %q", tc.name, tc.in, got, err, tc.want)
		}
	}
}

func TestCollectionName(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"Missing KB5071234 (2026-12)", true},
		{strings.Repeat("x", MaxNameLength), true},
		{strings.Repeat("é", MaxNameLength), true},
		{strings.Repeat("x", MaxNameLength+1), false},
		{"", false},
		{" lead", false},
		{"tab\there", false},
		{"star*", false},
		{"[bracket]", false},
		{"bad\xffutf8", false},
	} {
		err := CollectionName(tc.in)
		if (err == nil) != tc.ok {
			t.Errorf("CollectionName(%q) = %v, want ok=%v", tc.in, err, tc.ok)
		}
		if err != nil && exit.Code(err) != exit.Usage {
			t.Errorf("CollectionName(%q): code %d", tc.in, exit.Code(err))
		}
	}
}

func TestFolderPath(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want []string
		ok   bool
	}{
		{"/", nil, true},
		{"/patchnight", []string{"patchnight"}, true},
		{"/patchnight/Missing updates", []string{"patchnight", "Missing updates"}, true},
		{"patchnight", nil, false},
		{"/a//b", nil, false},
		{"/a/", nil, false},
		{`/a\b`, nil, false},
		{"/a/b/c/d/e/f/g/h/i", nil, false},
	} {
		got, err := FolderPath(tc.in)
		if (err == nil) != tc.ok || strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("FolderPath(%q) = %q, %v; want %q ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestRuleQuery(t *testing.T) {
	t.Parallel()
	const sel = "select SMS_R_SYSTEM.ResourceID,SMS_R_SYSTEM.ResourceType,SMS_R_SYSTEM.Name," +
		"SMS_R_SYSTEM.SMSUniqueIdentifier,SMS_R_SYSTEM.ResourceDomainORWorkgroup,SMS_R_SYSTEM.Client from SMS_R_System"
	const join = " inner join SMS_UpdateComplianceStatus on SMS_UpdateComplianceStatus.MachineID = SMS_R_System.ResourceID"
	for _, tc := range []struct {
		name string
		r    Rule
		want string
	}{
		{"article", Rule{Kind: MissingUpdate, ArticleID: "4012212"},
			sel + join + " inner join SMS_SoftwareUpdate on SMS_SoftwareUpdate.CI_ID = SMS_UpdateComplianceStatus.CI_ID" +
				` where SMS_SoftwareUpdate.ArticleID = "4012212" and SMS_UpdateComplianceStatus.Status = 2`},
		{"bulletin", Rule{Kind: MissingUpdate, BulletinID: "ms17-010"},
			sel + join + " inner join SMS_SoftwareUpdate on SMS_SoftwareUpdate.CI_ID = SMS_UpdateComplianceStatus.CI_ID" +
				` where SMS_SoftwareUpdate.BulletinID = "MS17-010" and SMS_UpdateComplianceStatus.Status = 2`},
		{"pending restart", Rule{Kind: Enforcement, EnforcementState: StatePendingRestart},
			sel + join + " where SMS_UpdateComplianceStatus.LastEnforcementMessageID = 9"},
		{"include exclude", Rule{Kind: Enforcement, EnforcementState: 11, Include: []string{"abc00012"}, Exclude: []string{"ABC00013"}},
			sel + join + " where SMS_UpdateComplianceStatus.LastEnforcementMessageID = 11" +
				" and SMS_R_System.ResourceId in (select ResourceID from SMS_CM_RES_COLL_ABC00012)" +
				" and SMS_R_System.ResourceId not in (select ResourceID from SMS_CM_RES_COLL_ABC00013)"},
	} {
		got, err := tc.r.Query()
		if err != nil || got != tc.want {
			t.Errorf("%s:\n got %q, %v\nwant %q", tc.name, got, err, tc.want)
			continue
		}
		back, err := Parse(strings.ToUpper(got))
		if err != nil {
			t.Errorf("%s: Parse of the upper-cased query: %v", tc.name, err)
			continue
		}
		again, _ := back.Query()
		if again != got {
			t.Errorf("%s: round trip gives %q", tc.name, again)
		}
	}
}

func TestRuleQueryRefuses(t *testing.T) {
	t.Parallel()
	for _, r := range []Rule{
		{Kind: MissingUpdate},
		{Kind: MissingUpdate, ArticleID: "1", BulletinID: "MS17-010"},
		{Kind: MissingUpdate, ArticleID: `1" or "1"="1`},
		{Kind: MissingUpdate, BulletinID: "MS17-010%"},
		{Kind: Enforcement, EnforcementState: 0},
		{Kind: Enforcement, EnforcementState: 9, Include: []string{"X) or (1=1"}},
		{Kind: "select"},
	} {
		if q, err := r.Query(); err == nil || exit.Code(err) != exit.Usage {
			t.Errorf("%+v: got %q, %v; want a usage error", r, q, err)
		}
	}
}

func TestParseRefuses(t *testing.T) {
	t.Parallel()
	good, _ := Rule{Kind: MissingUpdate, ArticleID: "4012212"}.Query()
	for _, q := range []string{
		"",
		"select * from SMS_R_System",
		good + " or 1 = 1",
		strings.Replace(good, "Status = 2", "Status = 3", 1),
		good + ` and SMS_R_System.Name = "x"`,
		`select * from SMS_R_System where Name = "unterminated`,
	} {
		if r, err := Parse(q); !errors.Is(err, ErrUnrecognized) {
			t.Errorf("Parse(%q) = %+v, %v; want ErrUnrecognized", q, r, err)
		}
	}
}

func TestEquivalent(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{`select * from X where A = "v"`, `SELECT  *  FROM x WHERE a='v'`, true},
		{`select * from X where A = "v"`, `select * from X where A = "V"`, false},
		{`select * from X where A = 1`, `select * from X where A = 2`, false},
		{`select * from X where A = "v`, `select * from X where A = "v`, false},
	} {
		if got := Equivalent(tc.a, tc.b); got != tc.want {
			t.Errorf("Equivalent(%q, %q) = %v", tc.a, tc.b, got)
		}
	}
}

func TestEquals(t *testing.T) {
	t.Parallel()
	got, err := Equals("SMS_R_System", "Name", `PC"1`)
	if err != nil || got != `SMS_R_System.Name = "PC\"1"` {
		t.Fatalf("Equals = %q, %v", got, err)
	}
	if _, err := Equals("SMS_R_System or 1", "Name", "x"); err == nil {
		t.Fatal("Equals accepted a bad class")
	}
	got, err = EqualsUint("ID", 4294967295)
	if err != nil || got != "ID = 4294967295" {
		t.Fatalf("EqualsUint = %q, %v", got, err)
	}
}
