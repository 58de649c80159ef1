package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/patchnight/patchnight/pkg/lab"
	"github.com/patchnight/patchnight/pkg/labsite"
)

// labEnv is a whole lab site on loopback (labsite: the WS-Man endpoint for every lab
// host and the SMS Provider, and optionally the Wake-on-LAN sockets) and a configuration
// file that points the CLI at it the way `patchnight lab serve` does: a lab profile with
// connect_to, a credential file (0600), the lab CA and its server name. run executes the
// CLI in-process with --config, so the real product path runs end to end: cobra, config,
// site database, masterzen/winrm over TLS with NTLM, the lab's endpoint and simulator.
//
// Every stdout and stderr of the env's runs is kept; when the test ends they, and every
// file under the env's directory except the credential files, are searched for the lab
// password.
type labEnv struct {
	t        *testing.T
	dir      string
	path     string // the lab database
	site     *labsite.Site
	cfgPath  string // the lab profile (as lab serve writes it)
	stateDir string
	password string
	wolPort  int               // UDP port of the lab's Wake-on-LAN sockets (spec.broadcasts)
	truth    *sql.DB           // read-only handle on the lab file: the simulator's truth
	secrets  []string          // texts no output may contain
	credFile string            // the right credential file
	mu       sync.Mutex        // guards written
	written  []string          // every stdout and stderr of the runs
	spec     labSpec           // how the env was built
	caFile   string            // the lab CA
	env      map[string]string // the environment the runs see (password variables)
}

// labSpec says how to build a labEnv.
type labSpec struct {
	hosts      int
	seed       int64
	faults     func(host string) lab.Fault // injected on top of the simulation (nil: none)
	broadcasts bool                        // open the lab's Wake-on-LAN sockets (ServeBroadcasts)
	clock      *labsite.Clock              // the lab's clock; nil = its stored time advancing in real time
	// winrm holds extra "key: value" lines of the profile's winrm section; the default
	// gives a generous operation timeout and one retry.
	winrm []string
	// http serves the lab over plain HTTP (the profile then says https: false).
	http bool
	// kerberos makes the lab accept tickets from testKDC and the profile use auth:
	// kerberos as testKDC's user, its password in the credential file.
	kerberos bool
}

// labConfig varies the configuration file for the bad-input tests.
type labConfig struct {
	credFile string   // "" = the right one
	noCA     bool     // leave ca_file out: the lab's certificate is then untrusted
	winrm    []string // replaces spec.winrm when not nil
}

// newLabEnv generates a lab in t.TempDir(), starts the lab site on 127.0.0.1 over HTTPS
// with a random password, and writes its configuration.
func newLabEnv(t *testing.T, spec labSpec) *labEnv {
	t.Helper()
	if spec.hosts == 0 {
		spec.hosts = 300
	}
	if spec.seed == 0 {
		spec.seed = 1
	}
	path := filepath.Join(t.TempDir(), "lab.db")
	// The end-to-end tests check each command against the lab's state at the moment: the
	// lab's permanent faults only, no machines leaving or installs blocked mid-test (the
	// night fault model, docs/lab.md, is tested by the lab and the rehearsal).
	if _, err := lab.Generate(t.Context(), path, lab.Options{Hosts: spec.hosts, Seed: spec.seed,
		Faults: &lab.FaultRates{InstallFault: 0.03}}); err != nil {
		t.Fatalf("generate lab: %v", err)
	}
	return newLabEnvAt(t, path, spec)
}

// newLabEnvAt serves the lab at path (in a directory of its own, which the env's files
// go into) as newLabEnv does.
func newLabEnvAt(t *testing.T, path string, spec labSpec) *labEnv {
	t.Helper()
	dir := filepath.Dir(path)
	e := &labEnv{t: t, dir: dir, path: path, stateDir: filepath.Join(dir, "state"), spec: spec}
	e.password = randomSecret(t)
	e.secrets = []string{e.password}
	opts := labsite.Options{Password: e.password, Faults: spec.faults, HTTP: spec.http, Clock: spec.clock}
	if spec.kerberos {
		opts.Kerberos = &lab.WSManKerberos{Keytab: testKDC.Keytab}
		e.secrets = append(e.secrets, testKDC.Password)
	}
	s, err := labsite.Start(t.Context(), e.path, opts)
	if err != nil {
		t.Fatalf("start lab site: %v", err)
	}
	e.site = s
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close lab site: %v", err)
		}
	})
	if spec.broadcasts {
		e.wolPort = serveBroadcasts(t, s)
	}
	e.truth = openRO(t, e.path)
	e.credFile = e.writeFile("patchnight-lab.credential", e.password+"\n")
	if spec.kerberos {
		e.credFile = e.writeFile("patchnight-lab.credential", testKDC.Password+"\n")
	}
	if s.PKI != nil {
		e.caFile = e.writeFile("patchnight-lab-ca.pem", string(s.PKI.CAPEM))
	}
	e.cfgPath = e.config("patchnight-lab.yaml", labConfig{})
	t.Cleanup(e.checkNoSecrets)
	return e
}

// openRO opens a lab file read-only (the test's independent view of the lab's truth).
func openRO(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(20000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// randomSecret is a password of 36 hex digits, different in every test.
func randomSecret(t *testing.T) string {
	t.Helper()
	var b [18]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b[:])
}

// serveBroadcasts opens the lab's Wake-on-LAN sockets on a UDP port no other process
// holds on 127.0.0.1 (the other lab addresses are checked by ServeBroadcasts itself; a
// clash there gives another try on another port).
func serveBroadcasts(t *testing.T, s *labsite.Site) int {
	t.Helper()
	var last error
	for range 5 {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		port := c.LocalAddr().(*net.UDPAddr).Port
		c.Close()
		n, err := s.ServeBroadcasts(t.Context(), port)
		if err == nil {
			if n == 0 {
				t.Fatal("ServeBroadcasts opened no socket")
			}
			return port
		}
		last = err
	}
	t.Fatalf("serve lab broadcasts: %v", last)
	return 0
}

// writeFile writes a file of the env with mode 0600 and returns its path.
func (e *labEnv) writeFile(name, content string) string {
	e.t.Helper()
	p := filepath.Join(e.dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		e.t.Fatal(err)
	}
	return p
}

// config writes a configuration file like the one lab serve writes, varied by c, and
// returns its path.
func (e *labEnv) config(name string, c labConfig) string {
	e.t.Helper()
	cred := c.credFile
	if cred == "" {
		cred = e.credFile
	}
	winrm := e.spec.winrm
	if c.winrm != nil {
		winrm = c.winrm
	}
	if winrm == nil {
		winrm = []string{"operation_timeout: 60s", "connect_timeout: 5s", "retries: 1"}
	}
	_, port, _ := net.SplitHostPort(e.site.Addr())
	lines := []string{
		"default_profile: lab",
		"profiles:",
		"  lab:",
		"    site_code: LAB",
		"    sql: sqlite:" + e.path,
		"    provider: " + labsite.ProviderHost,
		"    state_dir: " + e.stateDir,
		"    time_zone: UTC",
		"    winrm:",
		"      auth: " + map[bool]string{false: "ntlm", true: "kerberos"}[e.spec.kerberos],
		"      user: '" + map[bool]string{false: labsite.User, true: testKDC.Principal()}[e.spec.kerberos] + "'",
		"      credential_file: " + cred,
		"      https: " + strconv.FormatBool(!e.spec.http),
		"      port: " + port,
		"      connect_to: " + e.site.Addr(),
	}
	if e.spec.kerberos {
		lines = append(lines, "      krb5_conf: "+testKDC.Krb5Conf)
	}
	if !e.spec.http {
		lines = append(lines, "      server_name: "+labsite.ServerName)
	}
	if !c.noCA && !e.spec.http {
		lines = append(lines, "      ca_file: "+e.caFile)
	}
	for _, l := range winrm {
		lines = append(lines, "      "+l)
	}
	if e.wolPort != 0 {
		lines = append(lines, "    wol:", fmt.Sprintf("      port: %d", e.wolPort))
	}
	return e.writeFile(name, strings.Join(lines, "\n")+"\n")
}

// run executes the CLI in-process with the lab profile.
func (e *labEnv) run(args ...string) (string, string, int) {
	e.t.Helper()
	return e.runConfig(e.cfgPath, args...)
}

// runConfig executes the CLI in-process with the given configuration file. A run that
// takes longer than two minutes is canceled (and then fails the test by its exit code).
func (e *labEnv) runConfig(cfg string, args ...string) (string, string, int) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(e.t.Context(), 2*time.Minute)
	defer cancel()
	var out, errb bytes.Buffer
	full := append([]string{"--config", cfg}, args...)
	start := time.Now()
	defer func() {
		e.t.Logf("patchnight %s: %s", strings.Join(args, " "), time.Since(start).Round(time.Millisecond))
	}()
	code := Main(ctx, full, IO{In: strings.NewReader(""), Out: &out, Err: &errb},
		func(k string) string { return e.env[k] })
	e.mu.Lock()
	e.written = append(e.written, out.String(), errb.String())
	e.mu.Unlock()
	if s := out.String() + errb.String(); strings.Contains(s, "goroutine ") || strings.Contains(s, "panic:") {
		e.t.Errorf("patchnight %s: stack trace in output:\n%s", strings.Join(args, " "), s)
	}
	return out.String(), errb.String(), code
}

// runJSON runs the CLI with -o json, wants exit code want, and decodes stdout into v.
func (e *labEnv) runJSON(v any, want int, args ...string) (string, string) {
	e.t.Helper()
	return e.runJSONConfig(e.cfgPath, v, want, args...)
}

// runJSONConfig is runJSON with another configuration file.
func (e *labEnv) runJSONConfig(cfg string, v any, want int, args ...string) (string, string) {
	e.t.Helper()
	out, stderr, code := e.runConfig(cfg, append(args, "-o", "json")...)
	if code != want {
		e.t.Fatalf("patchnight %s: exit %d, want %d\nstderr: %s\nstdout: %.2000s", strings.Join(args, " "), code, want, stderr, out)
	}
	if err := json.Unmarshal([]byte(out), v); err != nil {
		e.t.Fatalf("patchnight %s: stdout is not the JSON expected: %v\n%.2000s", strings.Join(args, " "), err, out)
	}
	return out, stderr
}

// checkNoSecrets fails the test when any output of the env's runs, or any file under its
// directory other than the credential files, holds one of the env's secrets.
func (e *labEnv) checkNoSecrets() {
	e.t.Helper()
	e.mu.Lock()
	texts := slices.Clone(e.written)
	e.mu.Unlock()
	for i, s := range texts {
		for _, secret := range e.secrets {
			if strings.Contains(s, secret) {
				stream := "stdout"
				if i%2 == 1 {
					stream = "stderr"
				}
				e.t.Errorf("a secret appears on %s of run %d", stream, i/2+1)
			}
		}
	}
	for _, f := range e.filesWritten() {
		b, err := os.ReadFile(f)
		if err != nil {
			e.t.Errorf("read %s: %v", f, err)
			continue
		}
		for _, secret := range e.secrets {
			if bytes.Contains(b, []byte(secret)) {
				e.t.Errorf("a secret appears in %s", f)
			}
		}
	}
}

// filesWritten lists every regular file under the env's directory (the state dir, the lab
// database and its journal, exports) except the credential files, which hold the
// password by design.
func (e *labEnv) filesWritten() []string {
	var files []string
	err := filepath.WalkDir(e.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() && !strings.HasSuffix(p, ".credential") {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		e.t.Errorf("walk %s: %v", e.dir, err)
	}
	return files
}

// addSecret makes the leak check look for s too (another password a test used).
func (e *labEnv) addSecret(s string) { e.secrets = append(e.secrets, s) }

// set returns the first column of a query on the lab file as a set.
func (e *labEnv) set(query string, args ...any) map[string]bool {
	e.t.Helper()
	out := map[string]bool{}
	for _, row := range e.rows(query, args...) {
		out[row[0]] = true
	}
	return out
}

// rows runs a query on the lab file and returns every row as text.
func (e *labEnv) rows(query string, args ...any) [][]string {
	e.t.Helper()
	r, err := e.truth.QueryContext(e.t.Context(), query, args...)
	if err != nil {
		e.t.Fatalf("lab query: %v\n%s", err, query)
	}
	defer r.Close()
	cols, _ := r.Columns()
	var out [][]string
	for r.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := r.Scan(ptrs...); err != nil {
			e.t.Fatal(err)
		}
		row := make([]string, len(cols))
		for i, v := range vals {
			row[i] = v.String
			if !v.Valid {
				row[i] = "NULL"
			}
		}
		out = append(out, row)
	}
	if err := r.Err(); err != nil {
		e.t.Fatal(err)
	}
	return out
}

// keyed runs a query on the lab file and returns its rows keyed by the first column, the
// rest of the row joined by "|" (a snapshot to compare before and after).
func (e *labEnv) keyed(query string, args ...any) map[string]string {
	e.t.Helper()
	out := map[string]string{}
	for _, row := range e.rows(query, args...) {
		out[row[0]] = strings.Join(row[1:], "|")
	}
	return out
}

// count runs a query on the lab file that returns one integer.
func (e *labEnv) count(query string, args ...any) int {
	e.t.Helper()
	var n int
	if err := e.truth.QueryRowContext(e.t.Context(), query, args...).Scan(&n); err != nil {
		e.t.Fatalf("lab query: %v\n%s", err, query)
	}
	return n
}

// diffSets describes how got differs from want ("" when equal).
func diffSets(got, want map[string]bool) string {
	var extra, missing []string
	for k := range got {
		if !want[k] {
			extra = append(extra, k)
		}
	}
	for k := range want {
		if !got[k] {
			missing = append(missing, k)
		}
	}
	if len(extra) == 0 && len(missing) == 0 {
		return ""
	}
	slices.Sort(extra)
	slices.Sort(missing)
	return fmt.Sprintf("%d unexpected %v; %d missing %v", len(extra), clipList(extra), len(missing), clipList(missing))
}

func clipList(s []string) []string {
	if len(s) > 12 {
		return append(s[:12:12], "...")
	}
	return s
}

// clientResult is the JSON of a client action (client_cmd.go actionResult).
type clientResult struct {
	Action  string `json:"action"`
	Summary struct {
		Total      int            `json:"total"`
		OK         int            `json:"ok"`
		Failed     int            `json:"failed"`
		Canceled   int            `json:"canceled"`
		Duplicates int            `json:"duplicates"`
		ByReason   map[string]int `json:"by_reason"`
	} `json:"summary"`
	Hosts []struct {
		Host     string          `json:"host"`
		Outcome  string          `json:"outcome"`
		Result   string          `json:"result"`
		Reason   string          `json:"reason"`
		Error    string          `json:"error"`
		Attempts int             `json:"attempts"`
		Value    json.RawMessage `json:"value"`
	} `json:"hosts"`
}

// byOutcome returns the hosts of a client result with the given outcome (and reason, when
// not empty), upper-cased.
func (r *clientResult) byOutcome(outcome, reason string) map[string]bool {
	out := map[string]bool{}
	for _, h := range r.Hosts {
		if h.Outcome == outcome && (reason == "" || h.Reason == reason) {
			out[strings.ToUpper(h.Host)] = true
		}
	}
	return out
}
