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
