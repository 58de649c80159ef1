package main

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/patchnight/patchnight/pkg/lab"
)

// doctorReport is `patchnight doctor -o json`.
type doctorReport struct {
	Results []struct {
		Check   string `json:"check"`
		Subject string `json:"subject"`
		Status  string `json:"status"`
		Message string `json:"message"`
		Fix     string `json:"fix"`
	} `json:"results"`
	OK   int `json:"ok"`
	Warn int `json:"warn"`
	Fail int `json:"fail"`
}

// siteWrites is what the lab would show of a write: the simulator's action log and the
// collections with their rules and members.
func siteWrites(t *testing.T, db *sql.DB) string {
	t.Helper()
	var b strings.Builder
	for _, q := range []string{
		`SELECT COUNT(*) || ':' || COALESCE(MAX(Seq), 0) FROM lab_event`,
		`SELECT group_concat(CollectionID || '|' || Name || '|' || Comment || '|' || COALESCE(LastRefreshTime, '') || '|' || MemberCount, ';') FROM (SELECT * FROM lab_collection ORDER BY CollectionID)`,
		`SELECT COUNT(*) FROM lab_collection_member`,
		`SELECT COUNT(*) FROM lab_collection_rule_query`,
		`SELECT COUNT(*) FROM lab_collection_rule_direct`,
		`SELECT group_concat(ResourceID || Power, ',') FROM (SELECT * FROM lab_host ORDER BY ResourceID)`,
	} {
		var s sql.NullString
		if err := db.QueryRowContext(t.Context(), q).Scan(&s); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		b.WriteString(s.String + "\n")
	}
	return b.String()
}

// TestDoctorLab: against a healthy lab site doctor passes (exit 0), prints one line per
// check, -o json parses, and the site saw no write.
func TestDoctorLab(t *testing.T) {
	t.Parallel()
	e := newLabEnv(t, labSpec{hosts: 200})
	before := siteWrites(t, e.truth)

	var rep doctorReport
	e.runJSON(&rep, 0, "doctor")
	if rep.Fail != 0 || rep.OK == 0 {
		t.Fatalf("doctor on a healthy lab: %d ok, %d warn, %d fail: %+v", rep.OK, rep.Warn, rep.Fail, rep.Results)
	}
	var checks []string
	clients := 0
	for _, r := range rep.Results {
		if !slices.Contains(checks, r.Check) {
			checks = append(checks, r.Check)
		}
		if r.Check == "client" && r.Status == "ok" {
			clients++
		}
		if r.Status != "ok" && r.Fix == "" {
			t.Errorf("%s %s: %s with no fix", r.Check, r.Subject, r.Status)
		}
	}
	want := []string{"sql", "query", "sup-sync", "catalog-steps", "min-source-version", "not-required", "fast-channel-times", "update-group", "provider", "provider-rights", "folder-type", "client", "adapter-masks", "wake"}
	if !slices.Equal(checks, want) {
		t.Errorf("checks %v, want %v in this order", checks, want)
	}
	if clients != 10 {
		t.Errorf("%d clients probed ok, want the default sample of 10", clients)
	}

	out, stderr, code := e.run("doctor", "--sample", "3")
	if code != 0 || stderr != "" {
		t.Fatalf("doctor (table): exit %d, stderr %q", code, stderr)
	}
	if n := strings.Count(out, "| ok "); n < 10 {
		t.Errorf("table has %d ok lines:\n%s", n, out)
	}
	if after := siteWrites(t, e.truth); after != before {
		t.Errorf("doctor wrote to the site:\nbefore %s\nafter  %s", before, after)
	}
}

// TestDoctorFaults: a lab with one fault injected at a time: doctor names the fault and
// its fix in a failed line of the check that owns it, fails no other check, and exits 2
// with one line on stderr.
func TestDoctorFaults(t *testing.T) {
	t.Parallel()
	type setup struct {
		db   *sql.DB // read-write handle on the served lab
		host string  // an online client
	}
	tests := []struct {
		name   string
		args   []string
		wol    string                                  // wol.mode for the profile, "" = default
		fault  func(host, target string) lab.FaultKind // endpoint faults
		mutate func(t *testing.T, s setup)
		checks []string // the checks that may fail; the first must
		words  []string // in the failed line of the first check (message and fix)
	}{
		{
			name: "view missing", args: []string{"--skip-clients"},
			mutate: func(t *testing.T, s setup) { must(t, lab.DropView(t.Context(), s.db, "v_CIRelation")) },
			checks: []string{"query"},
			words:  []string{"this site's schema lacks v_CIRelation", "CM_<SITECODE>"},
		},
		{
			name: "column missing", args: []string{"--skip-clients"},
			mutate: func(t *testing.T, s setup) {
				must(t, lab.DropViewColumn(t.Context(), s.db, "v_Collections", "ObjectPath"))
			},
			checks: []string{"query"},
			words:  []string{"lacks the column ObjectPath", "collection_state"},
		},
		{
			name: "vSMS_SUPSyncStatus grant missing", args: []string{"--skip-clients"},
			mutate: func(t *testing.T, s setup) { must(t, lab.DenySelect(t.Context(), s.db, "vSMS_SUPSyncStatus")) },
			checks: []string{"sup-sync", "query"},
			words:  []string{"SELECT on vSMS_SUPSyncStatus is denied", "GRANT SELECT ON vSMS_SUPSyncStatus TO smsschm_users"},
		},
		{
			name: "MinSourceVersion missing", args: []string{"--skip-clients"},
			mutate: func(t *testing.T, s setup) {
				must(t, lab.DropViewColumn(t.Context(), s.db, "v_UpdateCIs", "MinSourceVersion"))
			},
			checks: []string{"min-source-version", "query"},
			words:  []string{"v_UpdateCIs lacks MinSourceVersion", `README "First night on a real site"`},
		},
		{
			name: "client in ConstrainedLanguage mode",
			fault: func(host, target string) lab.FaultKind {
				if strings.EqualFold(host, target) {
					return lab.FaultConstrainedLanguage
				}
				return lab.FaultNone
			},
			checks: []string{"client"},
			words:  []string{"ConstrainedLanguage", "Method invocation is supported only on core types", "AppLocker/WDAC"},
		},
		{
			name: "WinRM refused on a client",
			fault: func(host, target string) lab.FaultKind {
				if strings.EqualFold(host, target) {
					return lab.FaultRefuse
				}
				return lab.FaultNone
			},
			checks: []string{"client"},
			words:  []string{"WinRM unreachable", "enable WinRM on the host"},
		},
		{
			name: "a user collection in a folder of ObjectType 5000", args: []string{"--skip-clients"},
			mutate: func(t *testing.T, s setup) {
				_, err := s.db.ExecContext(t.Context(), `UPDATE lab_collection SET CollectionType = 1
					WHERE CollectionID = (SELECT MIN(CollectionID) FROM lab_collection WHERE ObjectPath <> '/')`)
				must(t, err)
			},
			checks: []string{"folder-type"},
			words:  []string{"not the device collection folder type", "(CollectionType 1)", "do not run collections apply"},
		},
		{
			name: "no wake route on a subnet", args: []string{"--skip-clients"}, wol: "relay",
			mutate: func(t *testing.T, s setup) {
				// Nobody is awake on the subnet of the first client, and relay mode
				// means no directed broadcast from this machine.
				_, err := s.db.ExecContext(t.Context(), `UPDATE lab_host SET Power = 'off'
					WHERE Subnet = (SELECT Subnet FROM lab_host WHERE Name = ?)`, s.host)
				must(t, err)
			},
			checks: []string{"wake"},
			words:  []string{"no wake route", "allow directed broadcasts", "wol.mode site"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "lab.db")
			if _, err := lab.Generate(t.Context(), path, lab.Options{Hosts: 120, Seed: 4}); err != nil {
				t.Fatal(err)
			}
			host := firstOnline(t, path)
			spec := labSpec{hosts: 120}
			if tc.fault != nil {
				spec.faults = func(h string) lab.Fault { return lab.Fault{Kind: tc.fault(h, host)} }
			}
			e := newLabEnvAt(t, path, spec)
			if tc.mutate != nil {
				tc.mutate(t, setup{db: e.site.DB, host: host})
			}
			cfg := e.cfgPath
			if tc.wol != "" {
				b, err := os.ReadFile(cfg)
				must(t, err)
				cfg = e.writeFile("doctor-wol.yaml", string(b)+"    wol:\n      mode: "+tc.wol+"\n")
			}
			args := append([]string{"doctor"}, tc.args...)
			if tc.fault != nil {
				args = append(args, "--host", host)
			}
			var rep doctorReport
			_, stderr := e.runJSONConfig(cfg, &rep, 2, args...)
			if lines := strings.Split(strings.TrimSpace(stderr), "\n"); len(lines) != 1 || !strings.HasPrefix(lines[0], "patchnight: doctor: ") {
				t.Errorf("stderr is not one patchnight line: %q", stderr)
			}
			named := false
			for _, r := range rep.Results {
				if r.Status != "fail" {
					continue
				}
				t.Logf("fail %s %s: %s (%s)", r.Check, r.Subject, r.Message, r.Fix)
				if !slices.Contains(tc.checks, r.Check) {
					t.Errorf("check %s failed too: %s (%s)", r.Check, r.Message, r.Fix)
				}
				text := r.Message + " " + r.Fix
				ok := r.Check == tc.checks[0]
				for _, w := range tc.words {
					ok = ok && strings.Contains(text, w)
				}
				named = named || ok
			}
			if !named {
				t.Errorf("no failed %s line names the fault (%q); results: %+v", tc.checks[0], tc.words, rep.Results)
			}
		})
	}
}

// TestDoctorCommandErrors: the command itself keeps the README's exit codes: 64 for bad
// flags, 69 when the site database cannot be reached, each with one line on stderr.
func TestDoctorCommandErrors(t *testing.T) {
	t.Parallel()
	e := newLabEnv(t, labSpec{hosts: 30})
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"sample zero", []string{"doctor", "--sample", "0"}, 64, "--sample 0"},
		{"bad host", []string{"doctor", "--host", "https://pc1/"}, 64, "--host"},
		{"unknown flag", []string{"doctor", "--frobnicate"}, 64, "frobnicate"},
		{"an argument", []string{"doctor", "now"}, 64, "now"},
		{"SQL Server unreachable", []string{"--sql", "sqlserver://127.0.0.1:1?database=CM_LAB&dial+timeout=2", "doctor", "--skip-clients"}, 69, "cannot reach SQL Server"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			out, stderr, code := e.run(tc.args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d; stderr %q", code, tc.code, stderr)
			}
			if out != "" || strings.Count(stderr, "\n") != 1 || !strings.HasPrefix(stderr, "patchnight: ") || !strings.Contains(stderr, tc.want) {
				t.Errorf("stdout %q, stderr %q: want one patchnight line naming %q", out, stderr, tc.want)
			}
		})
	}
}

// TestDoctorReadme: the README section the doctor's fixes point to exists and names every
// check doctor prints.
func TestDoctorReadme(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../../README.md")
	must(t, err)
	readme := string(b)
	i := strings.Index(readme, "\n## First night on a real site\n")
	if i < 0 {
		t.Fatal(`README has no "First night on a real site" section`)
	}
	section := readme[i:]
	if j := strings.Index(section[1:], "\n## "); j >= 0 {
		section = section[:j+1]
	}
	for _, check := range []string{"sql", "query", "sup-sync", "catalog-steps", "min-source-version", "not-required", "fast-channel-times", "update-group", "provider", "provider-rights", "folder-type", "client", "adapter-masks", "wake", "tasks"} {
		if !strings.Contains(section, "**"+check+"**") {
			t.Errorf("the README section does not explain the %s check", check)
		}
	}
	for _, w := range []string{"MinSourceVersion", "GRANT SELECT ON vSMS_SUPSyncStatus TO", "night --dry-run"} {
		if !strings.Contains(section, w) {
			t.Errorf("the README section lacks %q", w)
		}
	}
}

// firstOnline is the name of the first online client of the lab at path.
func firstOnline(t *testing.T, path string) string {
	t.Helper()
	db := openRO(t, path)
	var name string
	err := db.QueryRowContext(context.Background(), `SELECT Name FROM v_CombinedDeviceResources
		WHERE CNIsOnline = 1 AND IsClient = 1 ORDER BY Name LIMIT 1`).Scan(&name)
	if err != nil {
		t.Fatal(err)
	}
	return name
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
