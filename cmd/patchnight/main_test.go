package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "modernc.org/sqlite"

	"github.com/patchnight/patchnight/pkg/exit"
)

// run executes the command line in-process and returns stdout, stderr and the exit code.
func run(t *testing.T, env map[string]string, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(context.Background(), args, IO{In: strings.NewReader(""), Out: &out, Err: &errb},
		func(k string) string { return env[k] })
	return out.String(), errb.String(), code
}

func buildLab(t *testing.T, hosts int, seed int64) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "lab.db")
	_, stderr, code := run(t, nil, "lab", "init", "--db", path, "--hosts", fmt.Sprint(hosts), "--seed", fmt.Sprint(seed))
	if code != 0 {
		t.Fatalf("lab init: exit %d: %s", code, stderr)
	}
	return path
}

// dump returns every lab table's rows in a stable order, as text.
func dump(t *testing.T, path string) string {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var n string
		rows.Scan(&n)
		tables = append(tables, n)
	}
	rows.Close()
	var b strings.Builder
	for _, tbl := range tables {
		r, err := db.Query(`SELECT * FROM "` + tbl + `" ORDER BY 1, 2`)
		if err != nil {
			r, err = db.Query(`SELECT * FROM "` + tbl + `" ORDER BY 1`)
		}
		if err != nil {
			t.Fatalf("%s: %v", tbl, err)
		}
		cols, _ := r.Columns()
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		fmt.Fprintf(&b, "## %s\n", tbl)
		for r.Next() {
			r.Scan(ptrs...)
			fmt.Fprintln(&b, vals...)
		}
		r.Close()
	}
	return b.String()
}

func TestLabInitIsDeterministic(t *testing.T) {
	t.Parallel()
	a, b, c := buildLab(t, 400, 7), buildLab(t, 400, 7), buildLab(t, 400, 8)
	da, db, dc := dump(t, a), dump(t, b), dump(t, c)
	if len(da) < 10000 {
		t.Fatalf("dump suspiciously small: %d bytes", len(da))
	}
	if da != db {
		t.Error("same seed gave different data")
	}
	if da == dc {
		t.Error("different seeds gave the same data")
	}
}

func TestReportComplianceJSON(t *testing.T) {
	t.Parallel()
	path := buildLab(t, 500, 3)
	out, stderr, code := run(t, nil, "report", "compliance", "--sql", "sqlite:"+path, "--output", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var rep struct {
		Clients int64 `json:"clients_in_scope"`
		Updates []struct {
			CIID                                      int64 `json:"ci_id"`
			Required, Installed, NotRequired, Unknown int64
		} `json:"updates"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out)
	}
	if rep.Clients == 0 || len(rep.Updates) == 0 {
		t.Fatalf("empty report: %s", out)
	}
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var clients int64
	db.QueryRow(`SELECT COUNT(*) FROM lab_host WHERE IsClient = 1 AND Obsolete = 0 AND Decommissioned = 0`).Scan(&clients)
	if rep.Clients != clients {
		t.Errorf("clients_in_scope = %d, lab has %d clients", rep.Clients, clients)
	}
	var raw []map[string]any
	var whole map[string]json.RawMessage
	json.Unmarshal([]byte(out), &whole)
	json.Unmarshal(whole["updates"], &raw)
	for i, u := range raw {
		var req, inst int64
		db.QueryRow(`SELECT COALESCE(SUM(Status = 2), 0), COALESCE(SUM(Status = 3), 0) FROM lab_update_state s
			JOIN lab_host h ON h.ResourceID = s.ResourceID AND h.IsClient = 1 AND h.Obsolete = 0 AND h.Decommissioned = 0
			WHERE s.CI_ID = ?`, rep.Updates[i].CIID).Scan(&req, &inst)
		if int64(u["required"].(float64)) != req || int64(u["installed"].(float64)) != inst {
			t.Errorf("CI %d: required/installed %v/%v, lab %d/%d", rep.Updates[i].CIID, u["required"], u["installed"], req, inst)
		}
		sum := u["required"].(float64) + u["installed"].(float64) + u["not_required"].(float64) + u["unknown"].(float64)
		if int64(sum) != clients {
			t.Errorf("CI %d: states add up to %v, not %d", rep.Updates[i].CIID, sum, clients)
		}
	}
	for _, f := range []string{"csv", "md", "table"} {
		out, stderr, code := run(t, nil, "report", "compliance", "--sql", "sqlite:"+path, "-o", f)
		if code != 0 || !strings.Contains(out, "Required") {
			t.Errorf("-o %s: exit %d %s", f, code, stderr)
		}
	}
	for _, args := range [][]string{{"scan"}, {"hosts", "--host", "PC-00001"}} {
		_, stderr, code := run(t, nil, append(append([]string{"report"}, args...), "--sql", "sqlite:"+path)...)
		if code != 0 && !strings.Contains(stderr, "not in the site database") {
			t.Errorf("report %v: exit %d %s", args, code, stderr)
		}
	}
}

func TestBadInput(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	labPath := buildLab(t, 200, 1)
	malformed := filepath.Join(dir, "bad.yaml")
	os.WriteFile(malformed, []byte("profiles: [\n"), 0o600)
	good := filepath.Join(dir, "good.yaml")
	os.WriteFile(good, []byte("profiles:\n  lab:\n    sql: sqlite:"+labPath+"\n"), 0o600)
	notSite := filepath.Join(dir, "empty.db")
	{
		db, _ := sql.Open("sqlite", notSite)
		db.Exec(`CREATE TABLE x (a INT)`)
		db.Close()
	}
	sqlLab := "sqlite:" + labPath
	tests := []struct {
		name string
		env  map[string]string
		args []string
		code int
		want string
	}{
		{"unknown command", nil, []string{"frobnicate"}, exit.Usage, "unknown command"},
		{"unknown flag", nil, []string{"report", "scan", "--frob"}, exit.Usage, "unknown flag"},
		{"bad output", nil, []string{"report", "scan", "-o", "xml", "--sql", sqlLab}, exit.Usage, "not a format"},
		{"missing config", nil, []string{"report", "scan", "--config", filepath.Join(dir, "none.yaml")}, exit.Usage, "config init"},
		{"malformed config", nil, []string{"report", "scan", "--config", malformed}, exit.Usage, "malformed"},
		{"unknown profile", nil, []string{"report", "scan", "--config", good, "--profile", "prod"}, exit.Usage, `profile "prod" is not in`},
		{"unknown profile from env", map[string]string{"PATCHNIGHT_PROFILE": "prod", "PATCHNIGHT_CONFIG": good}, []string{"report", "scan"}, exit.Usage, `profile "prod"`},
		{"no dsn", nil, []string{"report", "scan"}, exit.Usage, "no site database configured"},
		{"dsn does not parse", nil, []string{"report", "scan", "--sql", "mysql://x"}, exit.Usage, "neither sqlserver"},
		{"dsn without database", nil, []string{"report", "scan", "--sql", "sqlserver://127.0.0.1:1"}, exit.Usage, "names no database"},
		{"unreachable server", nil, []string{"report", "scan", "--sql", "sqlserver://u:Sup3rSecret@127.0.0.1:1?database=CM_ABC&dial+timeout=2"}, exit.Unavailable, "cannot reach SQL Server"},
		{"missing lab file", nil, []string{"report", "scan", "--sql", "sqlite:" + filepath.Join(dir, "nope.db")}, exit.Usage, "lab init"},
		{"not a site database", nil, []string{"report", "scan", "--sql", "sqlite:" + notSite}, exit.Usage, "not a ConfigMgr site database"},
		{"bad update id", nil, []string{"report", "compliance", "--sql", sqlLab, "--update", "KB12'--"}, exit.Usage, "is not an update id"},
		{"bad missing id", nil, []string{"report", "hosts", "--sql", sqlLab, "--missing", "MS17-1"}, exit.Usage, "is not an update id"},
		{"unknown collection", nil, []string{"report", "compliance", "--sql", sqlLab, "--collection", "LAB0FFFF"}, exit.Usage, "does not exist"},
		{"unknown group", nil, []string{"report", "compliance", "--sql", sqlLab, "--group", "Nope"}, exit.Usage, "does not exist"},
		{"hosts needs one flag", nil, []string{"report", "hosts", "--sql", sqlLab}, exit.Usage, "exactly one of"},
		{"lab init without db", nil, []string{"lab", "init"}, exit.Usage, "--db"},
		{"lab init bad hosts", nil, []string{"lab", "init", "--db", filepath.Join(dir, "x.db"), "--hosts", "0"}, exit.Usage, "hosts"},
		{"lab init exists", nil, []string{"lab", "init", "--db", labPath}, exit.Usage, "exists"},
		{"config init exists", nil, []string{"config", "init", "--out", good}, exit.Usage, "already exists"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			out, stderr, code := run(t, tc.env, tc.args...)
			if code != tc.code {
				t.Errorf("exit %d, want %d; stderr: %s", code, tc.code, stderr)
			}
			if !strings.Contains(stderr, tc.want) {
				t.Errorf("stderr %q lacks %q", stderr, tc.want)
			}
			if n := strings.Count(strings.TrimSpace(stderr), "\n"); n != 0 {
				t.Errorf("stderr is %d lines, want one: %q", n+1, stderr)
			}
			if strings.Contains(stderr+out, "goroutine ") || strings.Contains(stderr+out, "panic") {
				t.Errorf("stack trace in output: %s", stderr)
			}
			if strings.Contains(stderr+out, "Sup3rSecret") {
				t.Errorf("password leaked: %s", stderr)
			}
		})
	}
}

func TestConfigInitAndShow(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "config.yaml")
	if _, stderr, code := run(t, nil, "config", "init", "--out", path); code != 0 {
		t.Fatalf("config init: %d %s", code, stderr)
	}
	env := map[string]string{"PATCHNIGHT_WINRM_PORT": "15986"}
	out, stderr, code := run(t, env, "config", "show", "--config", path, "--profile", "contoso",
		"--sql", "sqlserver://admin:Hunter2pass@cm01?database=CM_ABC")
	if code != 0 {
		t.Fatalf("config show: %d %s", code, stderr)
	}
	for _, want := range []string{"profile: contoso", "port: 15986 # env PATCHNIGHT_WINRM_PORT", "site_code: ABC # file", "# flag", "xxxxx"} {
		if !strings.Contains(out, want) {
			t.Errorf("config show lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "Hunter2pass") {
		t.Error("config show printed the password")
	}
}

func TestCompletionAndDocs(t *testing.T) {
	t.Parallel()
	for _, sh := range []string{"bash", "zsh", "fish", "powershell"} {
		out, stderr, code := run(t, nil, "completion", sh)
		if code != 0 || len(out) < 100 {
			t.Errorf("completion %s: exit %d %s", sh, code, stderr)
		}
	}
	for _, f := range []string{"man", "markdown"} {
		dir := t.TempDir()
		if _, stderr, code := run(t, nil, "docs", "--format", f, "--out", dir); code != 0 {
			t.Fatalf("docs %s: %d %s", f, code, stderr)
		}
		entries, _ := os.ReadDir(dir)
		if len(entries) < 5 {
			t.Errorf("docs %s wrote %d files", f, len(entries))
		}
	}
}
