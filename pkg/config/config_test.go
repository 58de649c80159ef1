package config

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/patchnight/patchnight/pkg/exit"
)

func TestExampleParsesAndResolves(t *testing.T) {
	t.Parallel()
	f, err := Parse("example", []byte(Example))
	if err != nil {
		t.Fatalf("Example does not parse: %v", err)
	}
	eff, err := Resolve("example", f, "contoso", func(string) string { return "" }, nil)
	if err != nil {
		t.Fatalf("resolve contoso: %v", err)
	}
	p := eff.Profile
	if p.SiteCode != "ABC" || p.Provider != "cm01.contoso.com" || p.TimeZone != "Europe/London" {
		t.Errorf("profile = %+v", p)
	}
	if p.WinRM.OperationTimeout.Std() != 2*time.Minute || !p.WinRM.NTLMEncryption || p.WoL.BatchPause.Std() != 2*time.Second {
		t.Errorf("winrm/wol = %+v %+v", p.WinRM, p.WoL)
	}
	n := p.Notify
	if n.Organisation != "Contoso IT" || n.Threshold != 3 || n.MinInterval.Std() != 4*time.Hour || n.Method != "window" || n.DisplayTime.Std() != 15*time.Minute {
		t.Errorf("notify = %+v", n)
	}
	// The example's texts are the defaults, written out.
	d := Defaults().Notify
	if n.ScanText != d.ScanText || n.MissingText != d.MissingText || n.ScanTitle != d.ScanTitle || n.MissingTitle != d.MissingTitle {
		t.Errorf("example notice texts differ from the defaults:\n%q\n%q", n.MissingText, d.MissingText)
	}
	if q, err := ParseQuietHours(n.QuietHours); err != nil || q.String() != "19:00-07:00" {
		t.Errorf("quiet hours %v, %v", q, err)
	}
	if eff.Sources["site_code"] != FromFile || eff.Sources["winrm.auth"] != FromFile {
		t.Errorf("sources = %v", eff.Sources)
	}
	lab, err := Resolve("example", f, "", func(string) string { return "" }, nil)
	if err != nil || lab.ProfileName != "lab" || lab.Profile.SQL != "sqlite:lab.db" {
		t.Fatalf("default profile: %+v, %v", lab, err)
	}
}

func TestPrecedence(t *testing.T) {
	t.Parallel()
	file := "default_profile: p\nprofiles:\n  p:\n    sql: sqlite:file.db\n    winrm:\n      port: 1111\n      https: false\n      auth: ntlm\n"
	f, err := Parse("t", []byte(file))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		env       map[string]string
		flags     map[string]string
		wantSQL   string
		wantPort  int
		wantHTTPS bool
		wantSrc   Source
	}{
		{"file only", nil, nil, "sqlite:file.db", 1111, false, FromFile},
		{"env beats file", map[string]string{"PATCHNIGHT_SQL": "sqlite:env.db", "PATCHNIGHT_WINRM_PORT": "2222"}, nil, "sqlite:env.db", 2222, false, FromEnv},
		{"flag beats env", map[string]string{"PATCHNIGHT_SQL": "sqlite:env.db"}, map[string]string{"sql": "sqlite:flag.db"}, "sqlite:flag.db", 1111, false, FromFlag},
		{"explicit false in file kept", nil, nil, "sqlite:file.db", 1111, false, FromFile},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			eff, err := Resolve("t", f, "", func(k string) string { return tc.env[k] }, tc.flags)
			if err != nil {
				t.Fatal(err)
			}
			if eff.Profile.SQL != tc.wantSQL || eff.Profile.WinRM.Port != tc.wantPort || eff.Profile.WinRM.HTTPS != tc.wantHTTPS {
				t.Errorf("got sql=%s port=%d https=%v", eff.Profile.SQL, eff.Profile.WinRM.Port, eff.Profile.WinRM.HTTPS)
			}
			if eff.Sources["sql"] != tc.wantSrc {
				t.Errorf("source of sql = %s, want %s", eff.Sources["sql"], tc.wantSrc)
			}
		})
	}
	noFile, err := Resolve("", nil, "", func(string) string { return "" }, nil)
	if err != nil {
		t.Fatal(err)
	}
	if noFile.Profile.WinRM.Port != 5986 || !noFile.Profile.WinRM.HTTPS || noFile.Sources["winrm.port"] != FromDefault {
		t.Errorf("defaults: %+v %v", noFile.Profile.WinRM, noFile.Sources["winrm.port"])
	}
}

func TestBadInput(t *testing.T) {
	t.Parallel()
	good := "profiles:\n  a:\n    sql: sqlite:x\n  b:\n    sql: sqlite:y\n"
	tests := []struct {
		name    string
		file    string
		profile string
		env     map[string]string
		flags   map[string]string
		want    string
	}{
		{"malformed yaml", "profiles: [", "", nil, nil, "malformed"},
		{"unknown top-level key", "profile:\n  a: {}\n", "", nil, nil, "malformed"},
		{"unknown setting", "profiles:\n  a:\n    sqll: x\n", "", nil, nil, "unknown setting sqll"},
		{"unknown section", "profiles:\n  a:\n    winrn:\n      port: 1\n", "", nil, nil, "unknown section winrn"},
		{"wrong type", "profiles:\n  a:\n    winrm:\n      port: many\n", "", nil, nil, "not a whole number"},
		{"bad duration", "profiles:\n  a:\n    winrm:\n      connect_timeout: soon\n", "", nil, nil, "not a duration"},
		{"unknown profile", good, "c", nil, nil, `profile "c" is not in`},
		{"bad env", good, "a", map[string]string{"PATCHNIGHT_WINRM_PORT": "x"}, nil, "PATCHNIGHT_WINRM_PORT"},
		{"basic over http", good, "a", map[string]string{"PATCHNIGHT_WINRM_HTTPS": "false", "PATCHNIGHT_WINRM_AUTH": "basic"}, nil, "clear text"},
		{"credssp", good, "a", map[string]string{"PATCHNIGHT_WINRM_AUTH": "credssp"}, nil, "not supported"},
		{"bad zone", good, "a", nil, map[string]string{"time_zone": "Mars/Olympus"}, "not a known time zone"},
		{"bad site code", good, "a", nil, map[string]string{"site_code": "ABCD"}, "not a site code"},
		{"zero rate", good, "a", map[string]string{"PATCHNIGHT_WOL_RATE": "0"}, nil, "above zero"},
		{"unknown placeholder", "profiles:\n  a:\n    notify:\n      missing_text: 'call {{.Phone}}'\n", "a", nil, nil, "unknown placeholder {{.Phone}}"},
		{"template function", good, "a", map[string]string{"PATCHNIGHT_NOTIFY_SCAN_TEXT": "{{printf \"%s\" .Machine}}"}, nil, "not a plain placeholder"},
		{"template condition", good, "a", map[string]string{"PATCHNIGHT_NOTIFY_SCAN_TITLE": "{{if .Count}}x{{end}}"}, nil, "is not allowed"},
		{"template syntax", good, "a", map[string]string{"PATCHNIGHT_NOTIFY_MISSING_TITLE": "{{.Title"}, nil, "notify.missing_title"},
		{"empty template", "profiles:\n  a:\n    notify:\n      scan_text: ' '\n", "a", nil, nil, "notify.scan_text is empty"},
		{"threshold zero", good, "a", map[string]string{"PATCHNIGHT_NOTIFY_THRESHOLD": "0"}, nil, "notify.threshold 0"},
		{"threshold negative", good, "a", nil, map[string]string{"notify.threshold": "-2"}, "notify.threshold -2"},
		{"bad method", good, "a", map[string]string{"PATCHNIGHT_NOTIFY_METHOD": "email"}, nil, "not a delivery method"},
		{"bad quiet hours", good, "a", map[string]string{"PATCHNIGHT_NOTIFY_QUIET_HOURS": "7pm-7am"}, nil, "notify.quiet_hours"},
		{"empty quiet span", good, "a", map[string]string{"PATCHNIGHT_NOTIFY_QUIET_HOURS": "07:00-07:00"}, nil, "same time"},
		{"negative interval", good, "a", map[string]string{"PATCHNIGHT_NOTIFY_MIN_INTERVAL": "-1h"}, nil, "negative"},
		{"short display", good, "a", map[string]string{"PATCHNIGHT_NOTIFY_DISPLAY_TIME": "1s"}, nil, "display_time"},
		{"contact with newline", "profiles:\n  a:\n    notify:\n      contact: \"a\\nb\"\n", "a", nil, nil, "notify.contact"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f, err := Parse("t.yaml", []byte(tc.file))
			if err == nil {
				_, err = Resolve("t.yaml", f, tc.profile, func(k string) string { return tc.env[k] }, tc.flags)
			}
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
			if exit.Code(err) != exit.Usage {
				t.Errorf("exit code %d, want %d", exit.Code(err), exit.Usage)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error spans lines: %q", err)
			}
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	t.Parallel()
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"))
	if exit.Code(err) != exit.Usage || !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "config init") {
		t.Fatalf("err = %v", err)
	}
}

func TestKeysAndEnvNames(t *testing.T) {
	t.Parallel()
	keys := strings.Join(Keys(), " ")
	for _, k := range []string{"site_code", "sql", "winrm.port", "winrm.operation_timeout", "wol.subnet_rate"} {
		if !strings.Contains(keys, k) {
			t.Errorf("Keys() lacks %s", k)
		}
	}
	if EnvName("winrm.operation_timeout") != "PATCHNIGHT_WINRM_OPERATION_TIMEOUT" {
		t.Error(EnvName("winrm.operation_timeout"))
	}
	if d := DefaultStateDir(); d == "" || (runtime.GOOS != "windows" && !strings.Contains(d, "patchnight")) {
		t.Errorf("DefaultStateDir() = %q", d)
	}
}

func TestQuietHours(t *testing.T) {
	t.Parallel()
	at := func(h, m int) time.Time { return time.Date(2026, 12, 10, h, m, 0, 0, time.UTC) }
	tests := []struct {
		span  string
		t     time.Time
		quiet bool
	}{
		{"19:00-07:00", at(19, 0), true},
		{"19:00-07:00", at(23, 59), true},
		{"19:00-07:00", at(0, 0), true},
		{"19:00-07:00", at(6, 59), true},
		{"19:00-07:00", at(7, 0), false},
		{"19:00-07:00", at(12, 0), false},
		{"19:00-07:00", at(18, 59), false},
		{"12:00-13:30", at(12, 0), true},
		{"12:00-13:30", at(13, 29), true},
		{"12:00-13:30", at(13, 30), false},
		{"12:00-13:30", at(11, 59), false},
		{"none", at(3, 0), false},
		{"", at(3, 0), false},
		{" 7:05 - 8:00 ", at(7, 30), true},
	}
	for _, tc := range tests {
		q, err := ParseQuietHours(tc.span)
		if err != nil {
			t.Fatalf("%q: %v", tc.span, err)
		}
		if got := q.Quiet(tc.t); got != tc.quiet {
			t.Errorf("%q at %s: quiet %v, want %v", tc.span, tc.t.Format("15:04"), got, tc.quiet)
		}
	}
	for _, bad := range []string{"19-07", "19:00", "25:00-07:00", "19:60-07:00", "19:00-07:00-08:00", "ab:cd-07:00", "19:0-07:00", "10:00-10:00"} {
		if _, err := ParseQuietHours(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestNoticeTemplates(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{DefaultScanTitle, DefaultScanText, DefaultMissingTitle, DefaultMissingText,
		"plain text", "{{.ArticleID}} {{.BulletinID}} {{.Update}} {{.Title}} {{.Updates}} {{.Organisation}} {{.Contact}} {{.Count}} {{.Threshold}} {{.Machine}}",
		"quotes \" ' ` $(x) % <script> & {{ .Machine }}"} {
		if _, err := ParseNoticeTemplate("t", ok); err != nil {
			t.Errorf("%q refused: %v", ok, err)
		}
	}
	for _, bad := range []string{"{{.User}}", "{{.Machine.Name}}", "{{.}}", "{{$x := 1}}", "{{template \"x\"}}", "{{define \"x\"}}y{{end}}", "{{range .Updates}}{{end}}", "{{.Machine | printf \"%q\"}}", "{{"} {
		_, err := ParseNoticeTemplate("t", bad)
		if err == nil {
			t.Errorf("%q accepted", bad)
			continue
		}
		if strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: error spans lines: %q", bad, err)
		}
	}
}
