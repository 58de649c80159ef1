// Package remote runs patchnight's PowerShell scripts on Windows hosts over WinRM (WS-Man
// remote shells, on github.com/masterzen/winrm) and fans an action out over thousands of
// hosts.
//
// One action on one host is Client.Run: it opens one remote shell, starts the fixed
// bootstrap command line (scripts.Command) with stdin as a pipe and no cmd.exe
// (WINRS_CONSOLEMODE_STDIN=FALSE, WINRS_SKIP_CMD_SHELL=TRUE), sends the named script and
// its JSON parameters on stdin (scripts.Input) in Send chunks sized so that their base64
// fits MaxEnvelopeSize, waits for the one JSON object the script prints, and deletes the
// shell: Create, Command, Send, Receive (more only for long polls), Delete, five HTTP
// requests when the connection is already authenticated. No Signal is sent after a command
// has reported Done: Windows does not release quota on it for text shells (MS-WSMV product
// behaviour note 118, quoted in ansible/ansible#83656), and deleting the shell ends it.
// A command that did not finish (timeout, cancel, failure) gets Signal (terminate) and
// Delete on a fresh context of a few seconds, so that it does not go on unseen. Parameters
// whose JSON is longer than Windows PowerShell 5.1's ConvertFrom-Json accepts are refused
// before anything is sent.
//
// Security: HTTPS with certificate verification by default; plain HTTP only when the
// configuration asks for it, and then only with Kerberos (always with message encryption:
// krbwrap.go) or NTLM (with message encryption when NTLMEncryption is set); Basic only
// over HTTPS; no CredSSP. Kerberos is mutual: the host's AP-REP is verified. Passwords never appear in
// errors, logs or output: Credentials masks itself when printed or marshalled, and every
// error text is scrubbed of the password.
//
// Failures are *Error values with a Kind (auth, tls, timeout, unreachable, quota, script,
// protocol, canceled). FanOut retries the transient ones (unreachable, timeout, quota) with
// jittered backoff and never the others.
package remote

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/patchnight/patchnight/pkg/exit"
)

// Auth is a WinRM authentication method.
type Auth string

// The authentication methods. CredSSP is deliberately absent.
const (
	AuthNTLM      Auth = "ntlm"      // NTLMv2 with DOMAIN\user or user@domain and a password
	AuthKerberos  Auth = "kerberos"  // Kerberos (gokrb5) with a password or a credential cache
	AuthBasic     Auth = "basic"     // Basic, local accounts only, HTTPS only
	AuthNegotiate Auth = "negotiate" // Windows SSPI Negotiate: the current logon, no password (Windows only)
)

// Defaults.
const (
	DefaultHTTPSPort        = 5986
	DefaultHTTPPort         = 5985
	DefaultConnectTimeout   = 10 * time.Second
	DefaultOperationTimeout = 2 * time.Minute
	DefaultPollTimeout      = 20 * time.Second
	// envelopeSize is sent as w:MaxEnvelopeSize (as pywinrm); stdin chunks are 1000 bytes less.
	envelopeSize = 153600
)

// Config is how to reach the hosts: one Config serves every host of a run.
type Config struct {
	// HTTP selects plain HTTP. The default (false) is HTTPS with certificate verification.
	// Plain HTTP is accepted only with Kerberos (always with message encryption) and NTLM.
	HTTP bool
	// Port is the WinRM port; 0 means 5986 for HTTPS and 5985 for HTTP.
	Port int
	// CAFile is a PEM bundle of the CAs that sign the hosts' WinRM certificates; CAPEM is
	// the same as bytes. Neither: the system roots.
	CAFile string
	CAPEM  []byte
	// TLSServerName overrides the name the certificates are checked against.
	TLSServerName string
	// Insecure skips certificate verification. Never on by default; say so explicitly.
	Insecure bool
	// Auth is the authentication method; "" means NTLM.
	Auth Auth
	// NTLMEncryption seals NTLM messages (needed over plain HTTP when the host keeps the
	// default AllowUnencrypted=false). Ignored over HTTPS.
	NTLMEncryption bool
	// ConnectTimeout bounds the TCP connect and TLS handshake (default 10 s).
	ConnectTimeout time.Duration
	// OperationTimeout bounds one Run on one host, all requests included (default 2 min).
	OperationTimeout time.Duration
	// PollTimeout is the WS-Man OperationTimeout of a Receive long poll (default 20 s): the
	// host answers at the latest after it, and the client polls again.
	PollTimeout time.Duration
	// Kerberos settings, for AuthKerberos (and the SPN for AuthNegotiate).
	Kerberos KerberosConfig
	// Dial, when set, opens every TCP connection instead of a net.Dialer. The lab and the
	// demo use it to send every host name to the loopback endpoint while the URL and the
	// HTTP Host header still name the target host.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// KerberosConfig configures Kerberos.
type KerberosConfig struct {
	Realm    string // realm, e.g. CONTOSO.COM; default: the part after @ in the user name
	Krb5Conf string // krb5.conf path (default /etc/krb5.conf; KRB5_CONFIG if set)
	CCache   string // credential cache file to use instead of a password (e.g. after kinit)
	// SPN is the service principal, "{host}" standing for the target host name in lower
	// case (default "HTTP/{host}").
	SPN string
}

// spn returns the service principal name for host, in lower case as SPNs are registered
// (Active Directory matches them without regard to case, MIT KDCs do not).
func (k KerberosConfig) spn(host string) string {
	s := k.SPN
	if s == "" {
		s = "HTTP/{host}"
	}
	return strings.ReplaceAll(s, "{host}", strings.ToLower(strings.TrimSuffix(host, ".")))
}

// complete fills the defaults and refuses unsafe or contradictory settings.
func (c Config) complete() (Config, error) {
	if c.Auth == "" {
		c.Auth = AuthNTLM
	}
	c.Auth = Auth(strings.ToLower(string(c.Auth)))
	switch c.Auth {
	case AuthNTLM, AuthKerberos, AuthBasic, AuthNegotiate:
	case "credssp":
		return c, exit.Usagef("use ntlm, kerberos or negotiate", "CredSSP is not supported: it hands the full credentials to the target host")
	default:
		return c, exit.Usagef("use one of: ntlm, kerberos, basic, negotiate", "unknown WinRM authentication %q", c.Auth)
	}
	if c.HTTP {
		switch c.Auth {
		case AuthBasic:
			return c, exit.Usagef("use HTTPS (port 5986) for Basic, or NTLM over HTTP", "Basic authentication over plain HTTP is refused: it sends the password in clear text")
		case AuthNTLM, AuthKerberos:
		default:
			return c, exit.Usagef("use HTTPS (port 5986), or Kerberos or NTLM over HTTP", "%s authentication over plain HTTP is refused: only Kerberos and NTLM (with message encryption) are allowed on plain HTTP", c.Auth)
		}
		if c.Insecure || c.CAFile != "" || len(c.CAPEM) > 0 || c.TLSServerName != "" {
			return c, exit.Usagef("drop the TLS settings or use HTTPS", "TLS settings (CA file, server name, insecure) were given for plain HTTP")
		}
	}
	if c.Port == 0 {
		c.Port = DefaultHTTPSPort
		if c.HTTP {
			c.Port = DefaultHTTPPort
		}
	}
	if c.Port < 1 || c.Port > 65535 {
		return c, exit.Usagef("use a TCP port between 1 and 65535", "WinRM port %d is out of range", c.Port)
	}
	if c.ConnectTimeout <= 0 {
		c.ConnectTimeout = DefaultConnectTimeout
	}
	if c.OperationTimeout <= 0 {
		c.OperationTimeout = DefaultOperationTimeout
	}
	if c.PollTimeout <= 0 {
		c.PollTimeout = DefaultPollTimeout
	}
	if c.PollTimeout < time.Second {
		c.PollTimeout = time.Second
	}
	if c.CAFile != "" {
		b, err := os.ReadFile(c.CAFile)
		if err != nil {
			return c, exit.Wrap(exit.Usage, err, "give a readable PEM file of the CA certificates", "cannot read the WinRM CA file %s", c.CAFile)
		}
		c.CAPEM = append(append([]byte{}, c.CAPEM...), b...)
	}
	if len(c.CAPEM) > 0 {
		if !x509.NewCertPool().AppendCertsFromPEM(c.CAPEM) {
			return c, exit.Usagef("give PEM-encoded CA certificates (-----BEGIN CERTIFICATE-----)", "the WinRM CA file %s holds no PEM certificate", orText(c.CAFile, "(CAPEM)"))
		}
	}
	return c, nil
}

func orText(s, alt string) string {
	if s == "" {
		return alt
	}
	return s
}

// hostName matches a DNS name (letters, digits, hyphens, underscores, dots).
var hostName = regexp.MustCompile(`^[A-Za-z0-9_]([A-Za-z0-9_-]{0,62})(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,62}))*\.?$`)

// ValidHost reports whether h is a host name or IP address the client can address: no
// scheme, port, path, user info or spaces.
func ValidHost(h string) error {
	if h == "" {
		return errors.New("empty host name")
	}
	if len(h) > 253 {
		return fmt.Errorf("host name %.40q... is longer than 253 characters", h)
	}
	if ip := net.ParseIP(strings.Trim(h, "[]")); ip != nil {
		return nil
	}
	if !hostName.MatchString(h) {
		return fmt.Errorf("%q is not a host name (no scheme, port, path or spaces)", h)
	}
	return nil
}

// hostPort joins host and port for a URL, bracketing IPv6 literals.
func hostPort(host string, port int) string {
	return net.JoinHostPort(strings.Trim(host, "[]"), strconv.Itoa(port))
}
