// Package config loads patchnight's configuration: a YAML file of named profiles (one per
// site), overlaid by PATCHNIGHT_* environment variables and command-line flags, in that
// order of precedence (flag > env > file > default).
//
// Secrets never live here: the WinRM password comes from an environment variable named by
// the profile, a credential file readable only by its owner, or a prompt (package remote).
// A SQL DSN may carry a password; Show masks it.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/patchnight/patchnight/pkg/exit"
)

// File is the configuration file.
type File struct {
	// DefaultProfile is used when neither --profile nor PATCHNIGHT_PROFILE names one.
	DefaultProfile string `yaml:"default_profile"`
	// Profiles by name, kept as YAML nodes so that a key written in the file (even as false
	// or 0) is told apart from a key left out.
	Profiles map[string]yaml.Node `yaml:"profiles"`
}

// Profile holds the settings for one site.
type Profile struct {
	SiteCode string `yaml:"site_code"` // three-character site code, e.g. ABC
	SQL      string `yaml:"sql"`       // site database DSN: sqlserver://... or sqlite:PATH
	Provider string `yaml:"provider"`  // SMS Provider host (usually the site server)
	StateDir string `yaml:"state_dir"` // where the journal and locks live
	TimeZone string `yaml:"time_zone"` // IANA zone of the site's Patch Tuesday, e.g. Europe/London
	WinRM    WinRM  `yaml:"winrm"`
	WoL      WoL    `yaml:"wol"`
	Notify   Notify `yaml:"notify"`
	// Exclude lists collections (IDs or names, separated by commas) whose members no step
	// of a night touches, for every plan (servers, kiosks, clinical or shop-floor machines).
	Exclude string  `yaml:"exclude"`
	Mail    Mail    `yaml:"mail"`
	Webhook Webhook `yaml:"webhook"`
}

// WinRM holds the remoting settings.
type WinRM struct {
	Auth             string   `yaml:"auth"`              // negotiate (Windows current logon), ntlm, kerberos, basic
	User             string   `yaml:"user"`              // DOMAIN\user or user@domain; empty with negotiate
	PasswordEnv      string   `yaml:"password_env"`      // name of the environment variable holding the password
	CredentialFile   string   `yaml:"credential_file"`   // file with the password, readable by its owner only
	HTTPS            bool     `yaml:"https"`             // HTTPS (5986) unless explicitly false
	Port             int      `yaml:"port"`              // 5986 for HTTPS, 5985 for HTTP
	CAFile           string   `yaml:"ca_file"`           // PEM bundle to verify the hosts' certificates
	ServerName       string   `yaml:"server_name"`       // TLS server name override
	Insecure         bool     `yaml:"insecure"`          // skip certificate verification (never by default)
	NTLMEncryption   bool     `yaml:"ntlm_encryption"`   // NTLM message encryption over plain HTTP
	Realm            string   `yaml:"realm"`             // Kerberos realm
	Krb5Conf         string   `yaml:"krb5_conf"`         // Kerberos configuration file
	KrbCCache        string   `yaml:"krb5_ccache"`       // Kerberos credential cache (after kinit) instead of a password
	SPN              string   `yaml:"spn"`               // Kerberos service principal, {host} = the target (default HTTP/{host})
	Concurrency      int      `yaml:"concurrency"`       // hosts at once
	ConnectTimeout   Duration `yaml:"connect_timeout"`   // TCP connect timeout
	OperationTimeout Duration `yaml:"operation_timeout"` // one remote action, per host
	ProviderTimeout  Duration `yaml:"provider_timeout"`  // one SMS Provider call (thousands of rule changes)
	Retries          int      `yaml:"retries"`           // retries for transient faults
	DNSSuffix        string   `yaml:"dns_suffix"`        // appended to machine names that have no dot (contoso.com)
	ConnectTo        string   `yaml:"connect_to"`        // host:port every connection goes to (a tunnel, a gateway, the lab)
}

// WoL holds the Wake-on-LAN settings.
type WoL struct {
	Port        int      `yaml:"port"`         // UDP port of the magic packet
	Mode        string   `yaml:"mode"`         // directed, unicast, relay, site, auto
	Rate        float64  `yaml:"rate"`         // packets per second, all subnets together
	SubnetRate  float64  `yaml:"subnet_rate"`  // packets per second per subnet
	Repeat      int      `yaml:"repeat"`       // packets per target
	BatchSize   int      `yaml:"batch_size"`   // machines per subnet before a pause
	BatchPause  Duration `yaml:"batch_pause"`  // pause between batches
	PasswordEnv string   `yaml:"password_env"` // environment variable holding a SecureOn password
}

// Duration is a time.Duration written as "45s" or "5m" in YAML and environment variables.
type Duration time.Duration

// UnmarshalYAML parses a duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %q is not a duration like 30s or 5m", n.Line, n.Value)
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes the duration as a string.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// Std returns the duration as a time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }

// Defaults returns the profile every setting falls back to.
func Defaults() Profile {
	return Profile{
		StateDir: DefaultStateDir(),
		TimeZone: "Local",
		WinRM: WinRM{
			Auth: defaultAuth(), HTTPS: true, Port: 5986, Concurrency: 64,
			ConnectTimeout: Duration(10 * time.Second), OperationTimeout: Duration(2 * time.Minute),
			ProviderTimeout: Duration(15 * time.Minute), Retries: 2,
		},
		// The same defaults as package wol; its doc comment says why.
		WoL: WoL{Port: 9, Mode: "directed", Rate: 1000, SubnetRate: 50, Repeat: 3,
			BatchSize: 10, BatchPause: Duration(2 * time.Second)},
		Notify: defaultNotify(),
	}
}

func defaultAuth() string {
	if runtime.GOOS == "windows" {
		return "negotiate"
	}
	return "kerberos"
}

// DefaultStateDir is %ProgramData%\patchnight on Windows and ~/.local/state/patchnight elsewhere.
func DefaultStateDir() string {
	if runtime.GOOS == "windows" {
		if pd := os.Getenv("ProgramData"); pd != "" {
			return filepath.Join(pd, "patchnight")
		}
	}
	if s := os.Getenv("XDG_STATE_HOME"); s != "" {
		return filepath.Join(s, "patchnight")
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".local", "state", "patchnight")
	}
	return "patchnight-state"
}

// DefaultPath is where the configuration file is looked for when neither --config nor
// PATCHNIGHT_CONFIG names one: the user's config directory, then the machine-wide one.
func DefaultPath() []string {
	var paths []string
	if d, err := os.UserConfigDir(); err == nil {
		paths = append(paths, filepath.Join(d, "patchnight", "config.yaml"))
	}
	if runtime.GOOS == "windows" {
		if pd := os.Getenv("ProgramData"); pd != "" {
			paths = append(paths, filepath.Join(pd, "patchnight", "config.yaml"))
		}
	} else {
		paths = append(paths, "/etc/patchnight/config.yaml")
	}
	return paths
}

// Load reads and parses the file at path. Unknown keys are errors, so a misspelt setting
// does not silently fall back to a default.
func Load(path string) (*File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, exit.Wrap(exit.Usage, err, "create one with: patchnight config init --out "+path, "configuration file %s", path)
		}
		return nil, exit.Wrap(exit.Usage, err, "check the path and its permissions", "configuration file %s", path)
	}
	return Parse(path, b)
}

// Parse parses configuration text; name is used in messages.
func Parse(name string, b []byte) (*File, error) {
	var f File
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		return nil, exit.Wrap(exit.Usage, err, "fix the YAML; patchnight config init shows the format", "configuration file %s is malformed", name)
	}
	for n, node := range f.Profiles {
		if n == "" || strings.ContainsAny(n, " \t\r\n") {
			return nil, exit.Usagef("use a name without spaces", "configuration file %s: profile name %q is not valid", name, n)
		}
		var p Profile
		if err := applyNode(&p, &node, "", map[string]Source{}); err != nil {
			return nil, exit.Wrap(exit.Usage, err, "fix the profile; patchnight config init shows the format", "configuration file %s, profile %s", name, n)
		}
	}
	return &f, nil
}

// Source says where an effective setting came from.
type Source string

// Sources, in increasing precedence.
const (
	FromDefault Source = "default"
	FromFile    Source = "file"
	FromEnv     Source = "env"
	FromFlag    Source = "flag"
)

// Effective is the configuration in force: the chosen profile with env and flags applied.
type Effective struct {
	Path        string            // configuration file read, "" if none
	ProfileName string            // profile used, "" if none
	Profile     Profile           // the settings
	Sources     map[string]Source // key (e.g. "winrm.port") → where it came from
}

// Resolve builds the effective configuration. file may be nil (no file). profile is the
// requested profile name ("" = the file's default, or the only one). getenv reads
// PATCHNIGHT_<KEY> variables (e.g. PATCHNIGHT_WINRM_PORT); flags are keys set on the command
// line with their values (e.g. "sql").
func Resolve(path string, file *File, profile string, getenv func(string) string, flags map[string]string) (*Effective, error) {
	eff := &Effective{Path: path, Profile: Defaults(), Sources: map[string]Source{}}
	fields := Keys()
	for _, k := range fields {
		eff.Sources[k] = FromDefault
	}
	if file != nil {
		name := profile
		if name == "" {
			name = file.DefaultProfile
		}
		if name == "" && len(file.Profiles) == 1 {
			for n := range file.Profiles {
				name = n
			}
		}
		if name != "" {
			p, ok := file.Profiles[name]
			if !ok {
				return nil, exit.Usagef("choose one of: "+strings.Join(profileNames(file), ", "),
					"profile %q is not in %s", name, path)
			}
			eff.ProfileName = name
			if err := applyNode(&eff.Profile, &p, "", eff.Sources); err != nil {
				return nil, exit.Wrap(exit.Usage, err, "fix the profile", "configuration file %s, profile %s", path, name)
			}
		}
	} else if profile != "" {
		return nil, exit.Usagef("create a configuration file with patchnight config init", "profile %q requested but no configuration file was found", profile)
	}
	for _, k := range fields {
		env := EnvName(k)
		if v := getenv(env); v != "" {
			if err := set(&eff.Profile, k, v); err != nil {
				return nil, exit.Wrap(exit.Usage, err, "fix or unset "+env, "environment variable %s", env)
			}
			eff.Sources[k] = FromEnv
		}
	}
	flagKeys := make([]string, 0, len(flags))
	for k := range flags {
		flagKeys = append(flagKeys, k)
	}
	sort.Strings(flagKeys)
	for _, k := range flagKeys {
		if err := set(&eff.Profile, k, flags[k]); err != nil {
			return nil, exit.Wrap(exit.Usage, err, "fix the flag's value", "flag for %s", k)
		}
		eff.Sources[k] = FromFlag
	}
	if err := eff.Profile.Validate(); err != nil {
		return nil, err
	}
	return eff, nil
}

func profileNames(f *File) []string {
	var n []string
	for k := range f.Profiles {
		n = append(n, k)
	}
	sort.Strings(n)
	if len(n) == 0 {
		return []string{"(the file has no profiles)"}
	}
	return n
}

// EnvName is the environment variable for a key: winrm.port → PATCHNIGHT_WINRM_PORT.
func EnvName(key string) string {
	return "PATCHNIGHT_" + strings.ToUpper(strings.NewReplacer(".", "_", "-", "_").Replace(key))
}

// Validate refuses settings that cannot work or are unsafe.
func (p Profile) Validate() error {
	if p.SiteCode != "" && !validSiteCode(p.SiteCode) {
		return exit.Usagef("a site code is three letters or digits, e.g. ABC", "site_code %q is not a site code", p.SiteCode)
	}
	if p.TimeZone != "" && p.TimeZone != "Local" {
		if _, err := time.LoadLocation(p.TimeZone); err != nil {
			return exit.Usagef("use an IANA zone such as Europe/London or America/Chicago", "time_zone %q is not a known time zone", p.TimeZone)
		}
	}
	switch p.WinRM.Auth {
	case "negotiate", "ntlm", "kerberos", "basic":
	default:
		return exit.Usagef("use negotiate, ntlm, kerberos or basic (CredSSP is not supported)", "winrm.auth %q is not supported", p.WinRM.Auth)
	}
	if !p.WinRM.HTTPS && p.WinRM.Auth == "basic" {
		return exit.Usagef("use https: true, or auth: ntlm with ntlm_encryption", "winrm: Basic authentication over plain HTTP would send the password in clear text")
	}
	if p.WinRM.Port < 1 || p.WinRM.Port > 65535 {
		return exit.Usagef("use 5986 (HTTPS) or 5985 (HTTP)", "winrm.port %d is not a port", p.WinRM.Port)
	}
	if p.WinRM.Concurrency < 1 || p.WinRM.Concurrency > 4096 {
		return exit.Usagef("use a value from 1 to 4096 (64 is the default)", "winrm.concurrency %d is out of range", p.WinRM.Concurrency)
	}
	if p.WinRM.ConnectTo != "" {
		if _, port, err := net.SplitHostPort(p.WinRM.ConnectTo); err != nil || port == "" {
			return exit.Usagef("write it as HOST:PORT, e.g. 127.0.0.1:5986", "winrm.connect_to %q is not a host and port", p.WinRM.ConnectTo)
		}
	}
	if p.WoL.Port < 1 || p.WoL.Port > 65535 {
		return exit.Usagef("use 9 (the default) or the port the client setting configures", "wol.port %d is not a port", p.WoL.Port)
	}
	if p.WoL.Rate <= 0 || p.WoL.SubnetRate <= 0 {
		return exit.Usagef("use a positive packets-per-second rate", "wol.rate and wol.subnet_rate must be above zero")
	}
	if err := p.Mail.validate(); err != nil {
		return err
	}
	if err := p.Webhook.validate(); err != nil {
		return err
	}
	return p.Notify.validate()
}

func validSiteCode(s string) bool {
	if len(s) != 3 {
		return false
	}
	for _, c := range s {
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// Keys lists every setting as a dotted key (site_code, winrm.port, ...), in file order.
func Keys() []string {
	var keys []string
	walk(reflect.TypeOf(Profile{}), "", func(key string, _ []int) { keys = append(keys, key) })
	return keys
}

func walk(t reflect.Type, prefix string, fn func(key string, index []int)) {
	var rec func(t reflect.Type, prefix string, index []int)
	rec = func(t reflect.Type, prefix string, index []int) {
		for i := range t.NumField() {
			f := t.Field(i)
			tag := strings.Split(f.Tag.Get("yaml"), ",")[0]
			if tag == "" || tag == "-" {
				continue
			}
			idx := append(append([]int{}, index...), i)
			if f.Type.Kind() == reflect.Struct {
				rec(f.Type, prefix+tag+".", idx)
				continue
			}
			fn(prefix+tag, idx)
		}
	}
	rec(t, prefix, nil)
}

func fieldByKey(p *Profile, key string) (reflect.Value, bool) {
	var found []int
	walk(reflect.TypeOf(Profile{}), "", func(k string, idx []int) {
		if k == key {
			found = idx
		}
	})
	if found == nil {
		return reflect.Value{}, false
	}
	return reflect.ValueOf(p).Elem().FieldByIndex(found), true
}

// set parses s into the setting named by key.
func set(p *Profile, key, s string) error {
	v, ok := fieldByKey(p, key)
	if !ok {
		return fmt.Errorf("unknown setting %s", key)
	}
	switch v.Interface().(type) {
	case Duration:
		d, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("%q is not a duration like 30s or 5m", s)
		}
		v.SetInt(int64(d))
		return nil
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(s)
	case reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return fmt.Errorf("%q is not true or false", s)
		}
		v.SetBool(b)
	case reflect.Int:
		n, err := strconv.Atoi(s)
		if err != nil {
			return fmt.Errorf("%q is not a whole number", s)
		}
		v.SetInt(int64(n))
	case reflect.Float64:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return fmt.Errorf("%q is not a number", s)
		}
		v.SetFloat(f)
	default:
		return fmt.Errorf("setting %s has an unsupported type", key)
	}
	return nil
}

// applyNode sets every key the YAML mapping node carries, recursing into sub-mappings.
// Unknown keys and values of the wrong type are errors naming the line.
func applyNode(p *Profile, n *yaml.Node, prefix string, sources map[string]Source) error {
	if n.Kind == 0 {
		return nil // empty profile
	}
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: expected a mapping of settings", n.Line)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		key := prefix + k.Value
		if v.Kind == yaml.MappingNode {
			if !isSection(key) {
				return fmt.Errorf("line %d: unknown section %s", k.Line, key)
			}
			if err := applyNode(p, v, key+".", sources); err != nil {
				return err
			}
			continue
		}
		if v.Kind != yaml.ScalarNode {
			return fmt.Errorf("line %d: %s must be a single value", k.Line, key)
		}
		if v.Tag == "!!null" {
			continue
		}
		if err := set(p, key, v.Value); err != nil {
			return fmt.Errorf("line %d: %s: %w", k.Line, key, err)
		}
		sources[key] = FromFile
	}
	return nil
}

func isSection(key string) bool {
	t := reflect.TypeOf(Profile{})
	f, ok := t.FieldByNameFunc(func(name string) bool {
		sf, _ := t.FieldByName(name)
		return strings.Split(sf.Tag.Get("yaml"), ",")[0] == key
	})
	return ok && f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeOf(time.Time{})
}
