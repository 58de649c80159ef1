package main

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/patchnight/patchnight/pkg/exit"
	"github.com/patchnight/patchnight/pkg/notify"
	"github.com/patchnight/patchnight/pkg/wol"
)

// parseApp is an App whose profile points at a site database and a WinRM endpoint that
// do not exist: a constructor that touched either would fail, so a test that reaches
// runF shows that parsing and validation did no I/O.
func parseApp(t *testing.T, extra ...string) *App {
	t.Helper()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yaml")
	lines := append([]string{
		"default_profile: p",
		"profiles:",
		"  p:",
		"    site_code: ABC",
		"    sql: sqlite:" + filepath.Join(dir, "missing", "site.db"),
		"    state_dir: " + filepath.Join(dir, "state"),
		"    time_zone: UTC",
		"    winrm:",
		"      connect_to: 192.0.2.1:1",
		"      concurrency: 12",
	}, extra...)
	if err := os.WriteFile(cfg, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return &App{IO: IO{In: strings.NewReader(""), Out: io.Discard, Err: io.Discard},
		Getenv: func(k string) string { return map[string]string{"PN_WOL_PW": "00:11:22:33:44:55"}[k] },
		Now:    time.Now, configPath: cfg}
}

// execute runs cmd with args and reports whether runF was reached.
func execute(cmd *cobra.Command, args ...string) error {
	cmd.SetArgs(args)
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	return cmd.ExecuteContext(context.Background())
}

func wantUsage(t *testing.T, err error, want string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one containing %q", want)
	}
	if !strings.Contains(err.Error(), want) {
		t.Fatalf("error %q, want it to contain %q", err, want)
	}
	var e *exit.Error
	if errors.As(err, &e) && exit.Code(err) != exit.Usage {
		t.Fatalf("exit code %d, want %d (usage)", exit.Code(err), exit.Usage)
	}
}

func TestWolParse(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		profile []string
		args    []string
		check   func(t *testing.T, o *wolOptions)
		err     string
	}{
		{name: "defaults", args: []string{"--host", "pc1,pc2"}, check: func(t *testing.T, o *wolOptions) {
			if o.Wake.Mode != wol.ModeDirected || !slices.Equal(o.Wake.Hosts, []string{"pc1", "pc2"}) || o.Wake.Rate != wol.DefaultRate {
				t.Errorf("got mode %q hosts %v rate %v", o.Wake.Mode, o.Wake.Hosts, o.Wake.Rate)
			}
		}},
		{name: "profile fills what the flags leave", profile: []string{"    wol:", "      mode: relay", "      rate: 10", "      port: 7"},
			args: []string{"--all", "--rate", "5"}, check: func(t *testing.T, o *wolOptions) {
				if o.Wake.Mode != wol.ModeRelay || o.Wake.Rate != 5 || o.Wake.Port != 7 {
					t.Errorf("got mode %q rate %v port %d, want relay 5 7", o.Wake.Mode, o.Wake.Rate, o.Wake.Port)
				}
			}},
		{name: "flag mode over the profile's", profile: []string{"    wol:", "      mode: relay"},
			args: []string{"--all", "--mode", "unicast"}, check: func(t *testing.T, o *wolOptions) {
				if o.Wake.Mode != wol.ModeUnicast {
					t.Errorf("mode %q, want unicast", o.Wake.Mode)
				}
			}},
		{name: "secureon from the environment", profile: []string{"    wol:", "      password_env: PN_WOL_PW"},
			args: []string{"--all"}, check: func(t *testing.T, o *wolOptions) {
				if o.Wake.SecureOn != "00:11:22:33:44:55" {
					t.Errorf("SecureOn %q", o.Wake.SecureOn)
				}
			}},
		{name: "secureon variable unset", profile: []string{"    wol:", "      password_env: PN_UNSET"}, args: []string{"--all"}, err: "PN_UNSET"},
		{name: "bare --confirm is site", args: []string{"--all", "--confirm"}, check: func(t *testing.T, o *wolOptions) {
			if o.Confirm != "site" {
				t.Errorf("confirm %q, want site", o.Confirm)
			}
		}},
		{name: "bad confirm", args: []string{"--all", "--confirm=ping"}, err: "not a confirmation method"},
		{name: "negative wait", args: []string{"--all", "--confirm", "--wait", "-1m"}, err: "negative"},
		{name: "wait without confirm", args: []string{"--all", "--wait", "1m"}, err: "--wait only applies with --confirm"},
		{name: "wait without confirm in a dry run", args: []string{"--all", "--wait", "1m", "--dry-run"}, check: func(t *testing.T, o *wolOptions) {
			if !o.DryRun {
				t.Error("not a dry run")
			}
		}},
		{name: "no targets", args: []string{}, err: ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var got *wolOptions
			cmd := newWolCmd(parseApp(t, tc.profile...), func(_ context.Context, o *wolOptions) error { got = o; return nil })
			err := execute(cmd, tc.args...)
			switch {
			case tc.check == nil && err == nil:
				t.Fatalf("no error; runF reached: %v", got != nil)
			case tc.check == nil:
				if tc.err != "" {
					wantUsage(t, err, tc.err)
				}
				if got != nil {
					t.Fatal("runF reached after a usage error")
				}
			default:
				if err != nil {
					t.Fatal(err)
				}
				if got == nil {
					t.Fatal("runF not reached")
				}
				tc.check(t, got)
			}
		})
	}
}

func TestClientParse(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		args  []string
		check func(t *testing.T, o *clientOptions)
		err   string
	}{
		{name: "scan hosts, concurrency from the profile", args: []string{"scan", "--host", "pc1,pc2"}, check: func(t *testing.T, o *clientOptions) {
			if o.Name != "scan" || o.Concurrency != 12 || !slices.Equal(o.Targets.hosts, []string{"pc1", "pc2"}) || o.Act == nil {
				t.Errorf("got %+v", o)
			}
		}},
		{name: "restart only if nobody", args: []string{"restart", "--host", "pc1", "--only-if-nobody-logged-on", "--concurrency", "3"}, check: func(t *testing.T, o *clientOptions) {
			if !o.OnlyIfNobody || o.Concurrency != 3 {
				t.Errorf("got %+v", o)
			}
		}},
		{name: "install wait", args: []string{"install", "--host", "pc1", "--wait", "90m"}, check: func(t *testing.T, o *clientOptions) {
			if o.Wait != 90*time.Minute {
				t.Errorf("wait %s", o.Wait)
			}
		}},
		{name: "policy via site", args: []string{"policy", "--via", "site", "--collection", "SMS00001"}, check: func(t *testing.T, o *clientOptions) {
			if o.Via != "site" || o.SiteOp == 0 || o.Targets.collection != "SMS00001" {
				t.Errorf("got %+v", o)
			}
		}},
		{name: "run-schedule ID", args: []string{"run-schedule", "113", "--host", "pc1"}, check: func(t *testing.T, o *clientOptions) {
			if o.Act == nil {
				t.Error("no action")
			}
		}},
		{name: "no targets", args: []string{"scan"}, err: "no target machines"},
		{name: "bad host", args: []string{"scan", "--host", "http://pc1"}, err: "--host"},
		{name: "scan via site", args: []string{"scan", "--via", "site", "--collection", "X"}, err: "cannot go --via site"},
		{name: "via site needs a collection", args: []string{"policy", "--via", "site", "--host", "pc1"}, err: "acts on a collection"},
		{name: "bad channel", args: []string{"scan", "--via", "smoke", "--host", "pc1"}, err: "not a channel"},
		{name: "concurrency out of range", args: []string{"scan", "--host", "pc1", "--concurrency", "5000"}, err: "out of range"},
		{name: "negative install wait", args: []string{"install", "--host", "pc1", "--wait", "-1m"}, err: "negative"},
		{name: "stray argument", args: []string{"scan", "extra", "--host", "pc1"}, err: "unexpected argument"},
		{name: "bad schedule", args: []string{"run-schedule", "nope", "--host", "pc1"}, err: ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var got *clientOptions
			cmd := newClientCmd(parseApp(t), func(_ context.Context, o *clientOptions) error { got = o; return nil })
			err := execute(cmd, tc.args...)
			if tc.check == nil {
				if err == nil {
					t.Fatal("no error")
				}
				if tc.err != "" {
					wantUsage(t, err, tc.err)
				}
				if got != nil {
					t.Fatal("runF reached after a usage error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got == nil {
				t.Fatal("runF not reached")
			}
			tc.check(t, got)
		})
	}
}

func TestRunAndNightParse(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		night bool
		args  []string
		want  runOptions
		err   bool
	}{
		{name: "run step", args: []string{"scan-0100"}, want: runOptions{Step: "scan-0100"}},
		{name: "run with plan and month", args: []string{"retry-restart-0400", "--plan", "p.yaml", "--month", "2026-12"},
			want: runOptions{Step: "retry-restart-0400", nightFlags: nightFlags{Plan: "p.yaml", Month: "2026-12"}}},
		{name: "run without a step", args: []string{}, err: true},
		{name: "run with two steps", args: []string{"a", "b"}, err: true},
		{name: "night", night: true, args: []string{"--month", "2027-01"}, want: runOptions{nightFlags: nightFlags{Month: "2027-01"}}},
		{name: "night takes no step", night: true, args: []string{"scan"}, err: true},
		{name: "run overriding a halt", args: []string{"retry-restart", "--override-halt"}, want: runOptions{Step: "retry-restart", OverrideHalt: true}},
		{name: "night resumed", night: true, args: []string{"--resume"}, want: runOptions{Resume: true}},
		{name: "night takes no override", night: true, args: []string{"--override-halt"}, err: true},
		{name: "run takes no resume", args: []string{"scan", "--resume"}, err: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var got *runOptions
			runF := func(_ context.Context, o *runOptions) error { got = o; return nil }
			cmd := newRunCmd(parseApp(t), runF)
			if tc.night {
				cmd = newNightCmd(parseApp(t), runF)
			}
			err := execute(cmd, tc.args...)
			if tc.err {
				if err == nil || got != nil {
					t.Fatalf("err %v, runF reached %v: want a usage error before runF", err, got != nil)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got == nil {
				t.Fatal("runF not reached")
			}
			if got.OverrideHalt != tc.want.OverrideHalt || got.Resume != tc.want.Resume {
				t.Errorf("override-halt %v resume %v, want %v %v", got.OverrideHalt, got.Resume, tc.want.OverrideHalt, tc.want.Resume)
			}
			if got.Step != tc.want.Step || got.nightFlags != tc.want.nightFlags || got.Lock == nil || got.Env == nil {
				t.Errorf("got step %q flags %+v, want %q %+v (with Lock and Env)", got.Step, got.nightFlags, tc.want.Step, tc.want.nightFlags)
			}
		})
	}
}

// TestUsageBeforeIO: usage errors are found before the site database is opened (the
// profile's database does not exist, so a command that opened it first would say so).
func TestUsageBeforeIO(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"notify missing without updates", []string{"notify", "missing"}, "name the updates the notice is about"},
		{"notify missing dry run without updates", []string{"notify", "missing", "--dry-run"}, "name the updates the notice is about"},
		{"notify missing with a bad update", []string{"notify", "missing", "--update", "KBnope"}, "KBnope"},
		{"wol --wait without --confirm", []string{"wol", "--all", "--wait", "1m"}, "--wait only applies with --confirm"},
		{"report morning with a bad run", []string{"report", "morning", "--run", "x"}, `"x" is not a run number`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			app := parseApp(t)
			var out, errb strings.Builder
			code := Main(context.Background(), append([]string{"--config", app.configPath}, tc.args...),
				IO{In: strings.NewReader(""), Out: &out, Err: &errb}, app.Getenv)
			if code != exit.Usage || !strings.Contains(errb.String(), tc.want) {
				t.Fatalf("exit %d, stderr %q; want %d and %q", code, errb.String(), exit.Usage, tc.want)
			}
		})
	}
}

func TestNotifyParse(t *testing.T) {
	t.Parallel()
	t.Run("missing", func(t *testing.T) {
		t.Parallel()
		for _, tc := range []struct {
			name string
			args []string
			want *notifyMissingOptions
			err  string
		}{
			{"updates", []string{"--update", "KB5071234,MS17-010", "--threshold", "2"},
				&notifyMissingOptions{Missing: notifyMissing([]string{"KB5071234", "MS17-010"}, "", false), Threshold: 2}, ""},
			{"group dry run", []string{"--group", "Dec SUG", "--dry-run"}, &notifyMissingOptions{Missing: notifyMissing(nil, "Dec SUG", true)}, ""},
			{"nothing named", nil, nil, "name the updates"},
			{"negative threshold", []string{"--group", "g", "--threshold", "-1"}, nil, "below 1"},
			{"bad update", []string{"--update", "KBx"}, nil, "KBx"},
			{"both", []string{"--update", "KB1", "--group", "g"}, nil, ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				var got *notifyMissingOptions
				err := execute(newNotifyMissingCmd(parseApp(t), func(_ context.Context, o *notifyMissingOptions) error { got = o; return nil }), tc.args...)
				if tc.want == nil {
					if err == nil || got != nil {
						t.Fatalf("err %v, runF reached %v: want an error before runF", err, got != nil)
					}
					if tc.err != "" {
						wantUsage(t, err, tc.err)
					}
					return
				}
				if err != nil || got == nil {
					t.Fatalf("err %v, runF reached %v", err, got != nil)
				}
				if !slices.Equal(got.Missing.Updates, tc.want.Missing.Updates) || got.Missing.Group != tc.want.Missing.Group ||
					got.Missing.DryRun != tc.want.Missing.DryRun || got.Threshold != tc.want.Threshold || got.Env == nil {
					t.Errorf("got %+v, want %+v", got.Missing, tc.want.Missing)
				}
			})
		}
	})
	t.Run("watch", func(t *testing.T) {
		t.Parallel()
		for _, tc := range []struct {
			name     string
			args     []string
			once     bool
			interval time.Duration
			err      string
		}{
			{"defaults", nil, false, 5 * time.Minute, ""},
			{"once", []string{"--once", "--interval", "1m"}, true, time.Minute, ""},
			{"dry run is one pass", []string{"--dry-run"}, true, 5 * time.Minute, ""},
			{"interval too short", []string{"--interval", "10s"}, false, 0, "too short"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				var got *notifyWatchOptions
				err := execute(newNotifyWatchCmd(parseApp(t), func(_ context.Context, o *notifyWatchOptions) error { got = o; return nil }), tc.args...)
				if tc.err != "" {
					if got != nil {
						t.Fatal("runF reached after a usage error")
					}
					wantUsage(t, err, tc.err)
					return
				}
				if err != nil || got == nil {
					t.Fatalf("err %v, runF reached %v", err, got != nil)
				}
				if got.Once != tc.once || got.Interval != tc.interval || got.Env == nil {
					t.Errorf("once %v interval %s, want %v %s", got.Once, got.Interval, tc.once, tc.interval)
				}
			})
		}
	})
}

func notifyMissing(updates []string, group string, dryRun bool) notify.MissingOptions {
	return notify.MissingOptions{Updates: updates, Group: group, DryRun: dryRun}
}
