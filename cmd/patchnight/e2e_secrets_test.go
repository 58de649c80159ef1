package main

import (
	"strings"
	"testing"

	"github.com/patchnight/patchnight/pkg/lab"
)

// TestE2ENoSecretsInOutput runs, with --verbose, every kind of command that handles the
// lab password (client actions with hosts that refuse the credentials, reset the
// connection mid-receive or hang; a wrong password; an untrusted certificate; the
// password from an environment variable; the SMS Provider through collections apply and
// --via site; config show) and then searches every stdout and stderr and every file under
// the lab's directory (the state dir, the lab database and its WAL, the configuration)
// for the right and the wrong password. Only the credential files may hold them.
func TestE2ENoSecretsInOutput(t *testing.T) {
	t.Parallel()
	path, names := faultLab(t, 150, 71)
	kind := map[string]lab.FaultKind{}
	for i, n := range names {
		switch i % 10 {
		case 0:
			kind[strings.ToLower(n)] = lab.FaultUnauthorized
		case 1:
			kind[strings.ToLower(n)] = lab.FaultResetReceive
		case 2:
			kind[strings.ToLower(n)] = lab.FaultQuota
		}
	}
	e := newLabEnvAt(t, path, labSpec{hosts: 150, faults: func(host string) lab.Fault {
		label, _, _ := strings.Cut(host, ".")
		return lab.Fault{Kind: kind[label]}
	}})
	host := e.rows(`SELECT Name FROM lab_host WHERE IsClient = 1 AND Power = 'on' ORDER BY ResourceID LIMIT 1 OFFSET 5`)[0][0]
	coll := e.rows(`SELECT CollectionID FROM lab_collection WHERE Name LIKE 'Location - %' ORDER BY MemberCount LIMIT 1`)[0][0]
	group := e.rows(`SELECT Title FROM lab_update WHERE CIType_ID = 9`)[0][0]

	wrong := randomSecret(t)
	e.addSecret(wrong)
	wrongCfg := e.config("wrong.yaml", labConfig{credFile: e.writeFile("wrong.credential", wrong+"\n")})
	noCACfg := e.config("no-ca.yaml", labConfig{noCA: true})
	e.env = map[string]string{"PATCHNIGHT_E2E_PASSWORD": e.password}
	envCfg := e.config("env.yaml", labConfig{credFile: e.writeFile("stale.credential", wrong+"\n"),
		winrm: []string{"password_env: PATCHNIGHT_E2E_PASSWORD", "operation_timeout: 60s", "retries: 1"}})

	runs := []struct {
		cfg  string
		args []string
	}{
		{wrongCfg, []string{"collections", "apply", "--yes", "--group", group, "--wait", "0"}}, // before the right one: it has changes
		{e.cfgPath, []string{"client", "scan", "--collection", coll}},
		{e.cfgPath, []string{"client", "install", "--yes", "--collection", coll, "-o", "json"}},
		{e.cfgPath, []string{"client", "policy", "--via", "site", "--collection", coll}},
		{e.cfgPath, []string{"collections", "apply", "--yes", "--group", group, "--wait", "0"}},
		{e.cfgPath, []string{"config", "show"}},
		{wrongCfg, []string{"client", "logged-on", "--host", host}},
		{wrongCfg, []string{"client", "policy", "--via", "site", "--collection", coll}},
		{noCACfg, []string{"client", "logged-on", "--host", host, "-o", "csv"}},
		{envCfg, []string{"client", "reboot-pending", "--host", host, "-o", "json"}},
		{envCfg, []string{"config", "show"}},
	}
	var all strings.Builder
	for _, r := range runs {
		out, stderr, code := e.runConfig(r.cfg, append(r.args, "--verbose")...)
		all.WriteString(out + stderr)
		if code == 0 && r.cfg == wrongCfg {
			t.Errorf("%v with the wrong password succeeded", r.args)
		}
	}
	// The search must have seen the texts where a password would leak: the errors.
	text := all.String()
	for _, want := range []string{"authentication failed for", "as " + `LAB\patchnight`, "not trusted", "PATCHNIGHT_E2E_PASSWORD", "level=DEBUG"} {
		if !strings.Contains(text, want) {
			t.Errorf("the runs' output lacks %q: the leak search would prove little", want)
		}
	}
	if out, _, code := e.runConfig(envCfg, "client", "logged-on", "--host", host); code != 0 {
		t.Errorf("the password from the environment did not work: exit %d\n%s", code, out)
	}
	files := e.filesWritten()
	if len(files) < 4 {
		t.Errorf("only %d files to search: %v", len(files), files)
	}
	e.checkNoSecrets() // also at cleanup; here so that a failure shows in this test's place
}
