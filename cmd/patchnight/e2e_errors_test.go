package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/patchnight/patchnight/pkg/exit"
	"github.com/patchnight/patchnight/pkg/labsite"
)

// TestE2EClientBadInput gives client actions against a lab every kind of bad input and
// bad environment the issue names: an unknown host, malformed hosts files, a collection
// without members, a wrong password, an untrusted certificate, a credential file others
// can read, and actions the site channel cannot carry. Each gives its exit code and one
// clear line (or, for per-host failures, a clear result for the host), never a stack
// trace, and nothing is retried that a retry cannot fix.
func TestE2EClientBadInput(t *testing.T) {
	t.Parallel()
	e := newLabEnv(t, labSpec{hosts: 250, seed: 31})
	host := e.rows(`SELECT Name FROM lab_host WHERE IsClient = 1 AND Power = 'on' ORDER BY ResourceID LIMIT 1`)[0][0]

	wrong := randomSecret(t)
	e.addSecret(wrong)
	wrongCred := e.writeFile("wrong.credential", wrong+"\n")
	wrongCfg := e.config("wrong-password.yaml", labConfig{credFile: wrongCred})
	noCACfg := e.config("no-ca.yaml", labConfig{noCA: true})
	openCred := e.writeFile("open.credential", e.password+"\n")
	if err := os.Chmod(openCred, 0o644); err != nil {
		t.Fatal(err)
	}
	openCfg := e.config("open-credential.yaml", labConfig{credFile: openCred})
	hostsFile := func(name, content string) string { return e.writeFile(name, content) }
	if _, err := e.site.DB.ExecContext(t.Context(), `INSERT INTO lab_collection (CollectionID, Name, Comment, LimitToCollectionID)
		VALUES ('LAB0EEEE', 'Empty - e2e', 'no members', 'SMS00001')`); err != nil {
		t.Fatal(err)
	}

	// Usage errors: refused before anything is sent, one line, exit 64.
	usage := []struct {
		name string
		args []string
		want string
	}{
		{"host list with a URL", []string{"client", "scan", "--host", "https://" + host + ":5986/wsman"}, "is not a host name"},
		{"hosts file with a space", []string{"client", "scan", "--hosts-file", hostsFile("space.txt", host+"\nPC 00002\n")}, "space.txt:2"},
		{"hosts file with a URL", []string{"client", "scan", "--hosts-file", hostsFile("url.txt", "# targets\n"+host+"\nhttp://PC-00003/wsman\n")}, "url.txt:3"},
		{"empty hosts file", []string{"client", "scan", "--hosts-file", hostsFile("empty.txt", "# nobody\n\n")}, "names no machine"},
		{"missing hosts file", []string{"client", "scan", "--hosts-file", filepath.Join(e.dir, "nope.txt")}, "nope.txt"},
		{"collection without members", []string{"client", "scan", "--collection", "Empty - e2e"}, "has no members"},
		{"unknown collection", []string{"client", "scan", "--collection", "LAB0FFFF"}, "does not exist"},
		{"no target", []string{"client", "scan"}, "no target machines"},
		{"two targets", []string{"client", "scan", "--host", host, "--collection", "SMS00001"}, "none of the others can be"},
		{"scan via site", []string{"client", "scan", "--via", "site", "--collection", "SMS00001"}, "cannot go --via site"},
		{"install via site", []string{"client", "install", "--via", "site", "--collection", "SMS00001"}, "cannot go --via site"},
		{"via site needs a collection", []string{"client", "policy", "--via", "site", "--host", host}, "acts on a collection"},
		{"unknown channel", []string{"client", "policy", "--via", "smoke", "--host", host}, "is not a channel"},
		{"bad schedule", []string{"client", "run-schedule", "abc", "--host", host}, "is not a client schedule ID"},
		{"concurrency out of range", []string{"client", "scan", "--host", host, "--concurrency", "5000"}, "out of range"},
		{"operation id", []string{"client", "operations", "x1"}, "is not an operation ID"},
	}
	for _, tc := range usage {
		t.Run(tc.name, func(t *testing.T) {
			out, stderr, code := e.run(tc.args...)
			if code != exit.Usage {
				t.Errorf("exit %d, want %d; stderr: %s", code, exit.Usage, stderr)
			}
			if !strings.Contains(stderr, tc.want) {
				t.Errorf("stderr %q lacks %q", stderr, tc.want)
			}
			if n := strings.Count(strings.TrimSpace(stderr), "\n"); n != 0 || out != "" {
				t.Errorf("want one line on stderr and nothing on stdout; got stderr %q, stdout %q", stderr, out)
			}
		})
	}
	t.Run("credential file readable by others", func(t *testing.T) {
		_, stderr, code := e.runConfig(openCfg, "client", "scan", "--host", host)
		if code != exit.Usage || !strings.Contains(stderr, "chmod 600") {
			t.Errorf("exit %d, stderr %q; want 64 and the chmod hint", code, stderr)
		}
	})

	// Per-host failures: the run finishes with a result for every host.
	perHost := []struct {
		name     string
		cfg      string
		hosts    string
		code     int
		reason   string
		attempts int
		want     string
	}{
		{"unknown host", e.cfgPath, "NOSUCH-99999", exit.Unavailable, "unreachable", 2, "NOSUCH-99999"},
		{"wrong password", wrongCfg, host, exit.NoPerm, "auth", 1, "authentication failed for " + host + " as " + labsite.User},
		{"untrusted certificate", noCACfg, host, exit.Failed, "tls", 1, "certificate"},
	}
	for _, tc := range perHost {
		t.Run(tc.name, func(t *testing.T) {
			var r clientResult
			_, stderr := e.runJSONConfig(tc.cfg, &r, tc.code, "client", "scan", "--host", tc.hosts)
			if len(r.Hosts) != 1 || r.Summary.Failed != 1 || r.Summary.ByReason[tc.reason] != 1 {
				t.Fatalf("result %+v, want one host failed by %s", r, tc.reason)
			}
			h := r.Hosts[0]
			if h.Reason != tc.reason || h.Attempts != tc.attempts || !strings.Contains(h.Error, tc.want) {
				t.Errorf("%s: %s after %d attempts: %q; want %s after %d, naming %q", h.Host, h.Reason, h.Attempts, h.Error, tc.reason, tc.attempts, tc.want)
			}
			if !strings.Contains(stderr, "1 of 1 hosts failed") {
				t.Errorf("stderr %q does not sum the failure up", stderr)
			}
		})
	}

	// A good hosts file: comments, blank lines, spaces and a repeated name are fine.
	t.Run("hosts file", func(t *testing.T) {
		other := e.rows(`SELECT Name FROM lab_host WHERE IsClient = 1 AND Power = 'on' AND Name <> ? ORDER BY ResourceID LIMIT 1`, host)[0][0]
		f := hostsFile("good.txt", "# patch night\n"+host+"\n\n  "+strings.ToLower(host)+"  # again\n"+other+"\n")
		var r clientResult
		e.runJSON(&r, 0, "client", "logged-on", "--hosts-file", f)
		if r.Summary.OK != 2 || r.Summary.Duplicates != 1 || len(r.Hosts) != 2 {
			t.Errorf("summary %+v, want 2 ok and 1 duplicate skipped", r.Summary)
		}
	})
	// One unknown host among good ones: partial, and the good ones ran.
	t.Run("unknown among known", func(t *testing.T) {
		var r clientResult
		e.runJSON(&r, exit.Partial, "client", "logged-on", "--host", host+",NOSUCH-99998")
		if r.Summary.OK != 1 || r.Summary.ByReason["unreachable"] != 1 {
			t.Errorf("summary %+v, want 1 ok and 1 unreachable", r.Summary)
		}
	})
	// The table output says the same in words.
	t.Run("table names the failure", func(t *testing.T) {
		out, _, code := e.runConfig(wrongCfg, "client", "policy", "--host", host)
		out = unwrapTable(out) // the message is one long cell, wrapped
		if code != exit.NoPerm || !strings.Contains(out, "authentication failed for "+host+" as "+labsite.User) || !strings.Contains(out, "auth") {
			t.Errorf("exit %d, table:\n%s", code, out)
		}
	})
}

// TestE2EClientViaSite sends a machine policy retrieval to a lab collection through the
// site's client notification (--via site: one WinRM call to the SMS Provider double),
// then reads the operation back with client operations: the counts match the lab (the
// online clients completed it, offline members are counted offline), and the lab ran a
// policy retrieval on exactly the collection's online clients.
func TestE2EClientViaSite(t *testing.T) {
	t.Parallel()
	e := newLabEnv(t, labSpec{hosts: 250, seed: 41})
	coll, online, offline := pickLocation(t, e, 40)
	members := e.count(`SELECT COUNT(*) FROM lab_collection_member WHERE CollectionID = ?`, coll)
	onlineNonClients := e.count(`SELECT COUNT(*) FROM lab_collection_member m JOIN lab_host h ON h.ResourceID = m.ResourceID
		WHERE m.CollectionID = ? AND h.IsClient = 0 AND h.Power = 'on'`, coll)
	offlineAll := e.count(`SELECT COUNT(*) FROM lab_collection_member m JOIN lab_host h ON h.ResourceID = m.ResourceID
		WHERE m.CollectionID = ? AND h.Power <> 'on'`, coll)
	if offlineAll != len(offline)+e.count(`SELECT COUNT(*) FROM lab_collection_member m JOIN lab_host h ON h.ResourceID = m.ResourceID
		WHERE m.CollectionID = ? AND h.IsClient = 0 AND h.Power <> 'on'`, coll) {
		t.Fatal("lab counts do not add up")
	}

	out, stderr, code := e.run("client", "policy", "--via", "site", "--collection", coll)
	if code != 0 {
		t.Fatalf("client policy --via site: exit %d: %s", code, stderr)
	}
	m := regexp.MustCompile(`operation (\d+); follow it with: patchnight client operations (\d+)`).FindStringSubmatch(out)
	if m == nil || m[1] != m[2] {
		t.Fatalf("no operation ID in %q", out)
	}
	var st struct {
		OperationID uint32 `json:"operation_id"`
		Found       bool   `json:"found"`
		Type        uint32 `json:"type"`
		Total       int    `json:"total_clients"`
		Completed   int    `json:"completed_clients"`
		Failed      int    `json:"failed_clients"`
		Offline     int    `json:"offline_clients"`
	}
	raw, _ := e.runJSON(&st, 0, "client", "operations", m[1])
	if strconv.FormatUint(uint64(st.OperationID), 10) != m[1] || !st.Found || st.Type != 8 {
		t.Errorf("client operations %s: %s", m[1], raw)
	}
	if st.Total != members || st.Completed != len(online) || st.Offline != offlineAll || st.Failed != onlineNonClients {
		t.Errorf("operation counts total %d completed %d offline %d failed %d; the lab has %d members: %d online clients, %d offline, %d online without a client",
			st.Total, st.Completed, st.Offline, st.Failed, members, len(online), offlineAll, onlineNonClients)
	}
	if d := diffSets(e.set(`SELECT UPPER(h.Name) FROM lab_event v JOIN lab_host h ON h.ResourceID = v.ResourceID
		WHERE v.Action = 'policy' AND v.Detail = ''`), online); d != "" {
		t.Errorf("hosts the lab ran a policy retrieval on vs online clients: %s", d)
	}
	if out, stderr, code := e.run("client", "operations", "99"); code != exit.Usage || !strings.Contains(stderr, "not known") {
		t.Errorf("client operations 99: exit %d %s %s", code, out, stderr)
	}
}
