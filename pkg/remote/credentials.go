package remote

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"strings"

	"golang.org/x/term"

	"github.com/patchnight/patchnight/pkg/exit"
)

// Credentials are a WinRM account. The password never leaves the process through this
// type: String, GoString, Format (every fmt verb), MarshalJSON and LogValue all mask it.
// There is deliberately no loader from a command-line flag value.
type Credentials struct {
	User     string // DOMAIN\user or user@domain (NTLM, Kerberos), or a local user (Basic); empty for negotiate
	Password string // empty for negotiate and for Kerberos with a credential cache
}

const mask = "********"

func (c Credentials) masked() string {
	p := "<none>"
	if c.Password != "" {
		p = mask
	}
	return fmt.Sprintf("Credentials{User: %q, Password: %s}", c.User, p)
}

// String masks the password.
func (c Credentials) String() string { return c.masked() }

// GoString masks the password (%#v).
func (c Credentials) GoString() string { return c.masked() }

// Format masks the password whatever the verb (%v, %+v, %#v, %s, %q, %x ...).
func (c Credentials) Format(f fmt.State, verb rune) { _, _ = io.WriteString(f, c.masked()) }

// MarshalJSON masks the password.
func (c Credentials) MarshalJSON() ([]byte, error) {
	p := ""
	if c.Password != "" {
		p = mask
	}
	return json.Marshal(struct {
		User     string `json:"user"`
		Password string `json:"password,omitempty"`
	}{c.User, p})
}

// LogValue masks the password in log/slog records.
func (c Credentials) LogValue() slog.Value { return slog.StringValue(c.masked()) }

// CredentialsFromEnv takes the password from the environment variable name (getenv is
// os.Getenv in production). An unset or empty variable is an error that names it.
func CredentialsFromEnv(user, name string, getenv func(string) string) (Credentials, error) {
	if name == "" {
		return Credentials{}, exit.Usagef("set winrm.password_env to the name of a variable", "no password environment variable is configured")
	}
	p := getenv(name)
	if p == "" {
		return Credentials{}, exit.New(exit.Usage, "export it, or use a credential file", "the password environment variable %s is not set or empty", name)
	}
	return Credentials{User: user, Password: p}, nil
}

// CredentialsFromFile reads a credential file. Format (documented in README):
//
//   - a JSON object {"user": "LAB\\svc-patch", "password": "..."}; user is optional and
//     overrides the configured one; or
//   - anything else: the first line is the password (the user comes from the
//     configuration), a trailing CR/LF is dropped.
//
// On systems other than Windows the file must not be readable or writable by group or
// others (chmod 600); on Windows its ACL is not checked.
func CredentialsFromFile(user, path string) (Credentials, error) {
	f, err := os.Open(path)
	if err != nil {
		return Credentials{}, exit.Wrap(exit.Usage, err, "check winrm.credential_file", "cannot open the credential file %s", path)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return Credentials{}, exit.Wrap(exit.Usage, err, "check winrm.credential_file", "cannot stat the credential file %s", path)
	}
	if !fi.Mode().IsRegular() {
		return Credentials{}, exit.Usagef("point winrm.credential_file at a regular file", "the credential file %s is not a regular file", path)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm()&0o077 != 0 {
		return Credentials{}, exit.Usagef("run: chmod 600 "+path, "the credential file %s is accessible by group or others (mode %04o)", path, fi.Mode().Perm())
	}
	b, err := io.ReadAll(io.LimitReader(f, 64<<10))
	if err != nil {
		return Credentials{}, exit.Wrap(exit.Usage, err, "check winrm.credential_file", "cannot read the credential file %s", path)
	}
	defer clear(b)
	return parseCredentialFile(user, path, b)
}

func parseCredentialFile(user, path string, b []byte) (Credentials, error) {
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
	if t := bytes.TrimSpace(b); len(t) > 0 && t[0] == '{' {
		var v struct {
			User     *string `json:"user"`
			Password *string `json:"password"`
		}
		if err := json.Unmarshal(t, &v); err == nil && v.Password != nil {
			if v.User != nil && *v.User != "" {
				user = *v.User
			}
			if *v.Password == "" {
				return Credentials{}, exit.Usagef("put the password in the file", "the credential file %s has an empty password", path)
			}
			return Credentials{User: user, Password: *v.Password}, nil
		}
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	line = bytes.TrimSuffix(line, []byte("\r"))
	if len(line) == 0 {
		return Credentials{}, exit.Usagef("put the password on the first line", "the credential file %s is empty", path)
	}
	return Credentials{User: user, Password: string(line)}, nil
}

// CredentialsFromPrompt asks for the password on a terminal without echo (x/term). tty is
// the terminal to read (usually os.Stdin) and out where the prompt goes (usually
// os.Stderr). It refuses when tty is not a terminal rather than read a password from a
// pipe by accident.
func CredentialsFromPrompt(user string, tty *os.File, out io.Writer) (Credentials, error) {
	if tty == nil || !term.IsTerminal(int(tty.Fd())) {
		return Credentials{}, exit.Usagef("set winrm.password_env or winrm.credential_file for unattended runs", "cannot prompt for the WinRM password: no terminal")
	}
	if user == "" {
		_, _ = fmt.Fprint(out, "WinRM user (DOMAIN\\user): ")
		r := bufio.NewReader(tty)
		l, err := r.ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return Credentials{}, fmt.Errorf("read the user name: %w", err)
		}
		user = strings.TrimSpace(l)
		if user == "" {
			return Credentials{}, exit.Usagef("type DOMAIN\\user or user@domain", "no WinRM user name given")
		}
	}
	_, _ = fmt.Fprintf(out, "WinRM password for %s: ", user)
	p, err := term.ReadPassword(int(tty.Fd()))
	_, _ = fmt.Fprintln(out)
	if err != nil {
		return Credentials{}, fmt.Errorf("read the password: %w", err)
	}
	defer clear(p)
	if len(p) == 0 {
		return Credentials{}, exit.Usagef("type the password", "no WinRM password given")
	}
	return Credentials{User: user, Password: string(p)}, nil
}

// scrub removes the password from a text that may have picked it up (an error from a
// library, a host's stderr). Passwords shorter than four characters are not scrubbed:
// replacing them would mangle ordinary words, and they are not worth protecting anyway.
func (c Credentials) scrub(s string) string {
	if len(c.Password) < 4 {
		return s
	}
	return strings.ReplaceAll(s, c.Password, mask)
}
