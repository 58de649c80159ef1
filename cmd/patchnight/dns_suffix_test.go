package main

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/patchnight/patchnight/pkg/client"
	"github.com/patchnight/patchnight/pkg/wol"
)

// hostRecorder is a WinRM endpoint that answers every request 401 and records the host
// name each was addressed to (the Host header: connect_to keeps the host's name in the
// request while sending the connection here).
type hostRecorder struct {
	srv   *httptest.Server
	mu    sync.Mutex
	hosts []string
}

func newHostRecorder(t *testing.T) *hostRecorder {
	t.Helper()
	h := &hostRecorder{}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, err := net.SplitHostPort(r.Host)
		if err != nil {
			host = r.Host
		}
		h.mu.Lock()
		h.hosts = append(h.hosts, host)
		h.mu.Unlock()
		w.WriteHeader(http.StatusUnauthorized)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

// take returns the distinct host names recorded since the last take.
func (h *hostRecorder) take() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	seen := map[string]bool{}
	for _, n := range h.hosts {
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	h.hosts = nil
	return out
}

// TestDNSSuffixSameInEveryCommand: winrm.dns_suffix written with or without its leading
// dot gives the same host names to run (the night's hosts), client, notify and the wol
// relay; a name that already has a dot is left alone. Before the session, run and night
// connected to "pc1..contoso.com" with ".contoso.com", and the wol relay added no suffix.
func TestDNSSuffixSameInEveryCommand(t *testing.T) {
	t.Parallel()
	dbPath := buildLab(t, 20, 3)
	rec := newHostRecorder(t)
	_, port, _ := net.SplitHostPort(rec.srv.Listener.Addr().String())
	reach := func(ctx context.Context, command string, app *App, host string) {
		t.Helper()
		switch command {
		case "client":
			var out, errb strings.Builder
			Main(ctx, []string{"--config", app.configPath, "client", "scan", "--host", host}, IO{In: strings.NewReader(""), Out: &out, Err: &errb}, app.Getenv)
		case "run":
			s, err := app.Session()
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			env, err := s.RunnerEnv(ctx) // what nightEnv gives runner.New
			if err != nil {
				t.Fatal(err)
			}
			runOn(ctx, t, env.Hosts.Client, host)
		case "notify":
			env, done, err := app.notifyEnv(ctx, true, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer done()
			runOn(ctx, t, env.Connect, host)
		case "wol relay":
			s, err := app.Session()
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			tr, _, err := s.Wake(ctx, wol.ModeRelay) // what wolRun sends through
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tr.Relayer.Relay(ctx, host, wol.RelayRequest{}); err == nil {
				t.Fatal("relay through the recorder succeeded")
			}
		}
	}
	for _, suffix := range []string{".contoso.com", "contoso.com"} {
		cfg := filepath.Join(t.TempDir(), "config.yaml")
		yaml := strings.Join([]string{
			"default_profile: p",
			"profiles:",
			"  p:",
			"    site_code: LAB",
			"    sql: sqlite:" + dbPath,
			"    state_dir: " + filepath.Join(filepath.Dir(cfg), "state"),
			"    time_zone: UTC",
			"    winrm:",
			"      auth: ntlm",
			"      user: 'LAB\\tester'",
			"      password_env: PN_TEST_PW",
			"      https: false",
			"      ntlm_encryption: true",
			"      port: " + port,
			"      connect_to: " + rec.srv.Listener.Addr().String(),
			"      dns_suffix: '" + suffix + "'",
			"      retries: 0",
			"      connect_timeout: 5s",
			"      operation_timeout: 10s",
		}, "\n") + "\n"
		if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		for _, command := range []string{"run", "client", "notify", "wol relay"} {
			for host, want := range map[string]string{"pc1": "pc1.contoso.com", "pc2.corp.example": "pc2.corp.example"} {
				app := &App{IO: IO{In: strings.NewReader(""), Out: &strings.Builder{}, Err: &strings.Builder{}},
					Getenv: func(k string) string { return map[string]string{"PN_TEST_PW": "not-a-secret"}[k] },
					Now:    time.Now, configPath: cfg}
				rec.take()
				reach(t.Context(), command, app, host)
				got := rec.take()
				if len(got) != 1 || got[0] != want {
					t.Errorf("dns_suffix %q, %s to %q: connected to %q, want %q", suffix, command, host, got, want)
				}
			}
		}
	}
}

// runOn runs the probe script on host through connect and wants it to fail (the recorder
// refuses every request).
func runOn(ctx context.Context, t *testing.T, connect func(string) (client.Runner, func(), error), host string) {
	t.Helper()
	r, release, err := connect(host)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	var out json.RawMessage
	if err := r.Run(ctx, "probe", map[string]any{}, &out); err == nil {
		t.Fatalf("%s: the recorder answered", host)
	}
}
