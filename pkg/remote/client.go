package remote

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"strconv"
	"time"

	"github.com/masterzen/winrm"

	"github.com/patchnight/patchnight/pkg/exit"
	"github.com/patchnight/patchnight/scripts"
)

// Connector holds what every host of a run shares: the validated Config, the
// credentials, the Kerberos login, the Windows SSPI credentials handle. Make one per run
// and one Client per host from it. It is safe for concurrent use.
type Connector struct {
	cfg   Config
	creds Credentials
	roots *x509.CertPool // parsed CAPEM, shared by every host's TLS configuration
	// tickets resumes TLS sessions across the run's connections (a new connection per host
	// and action): a resumed handshake skips the certificate exchange and its signatures.
	tickets tls.ClientSessionCache
	command string // the bootstrap command line, encoded once
	scripts *scriptCache
	msgs    *msgTemplates
	bufs    *bufPool // message and answer buffers shared by the clients
	krb     *kerberosLogin
	sspi    *sspiCreds
}

// NewConnector validates cfg and creds together (refusing unsafe combinations) and
// returns a Connector. Errors are *exit.Error with the Usage code.
func NewConnector(cfg Config, creds Credentials) (*Connector, error) {
	cfg, err := cfg.complete()
	if err != nil {
		return nil, err
	}
	k := &Connector{cfg: cfg, creds: creds, command: scripts.Command(), scripts: &scriptCache{}, msgs: &msgTemplates{}, bufs: &bufPool{},
		tickets: tls.NewLRUClientSessionCache(4096)}
	if len(cfg.CAPEM) > 0 {
		k.roots = x509.NewCertPool()
		k.roots.AppendCertsFromPEM(cfg.CAPEM) // checked in complete
	}
	switch cfg.Auth {
	case AuthNTLM, AuthBasic:
		if creds.User == "" || creds.Password == "" {
			return nil, exit.Usagef("configure winrm.user and a password source (environment variable, credential file or prompt)",
				"%s authentication needs a user name and a password", cfg.Auth)
		}
	case AuthKerberos:
		if creds.User == "" && cfg.Kerberos.CCache == "" {
			return nil, exit.Usagef("configure winrm.user (user@REALM) and a password, or a credential cache",
				"Kerberos authentication needs a user name and a password, or a credential cache")
		}
		if cfg.Kerberos.CCache == "" && creds.Password == "" {
			return nil, exit.Usagef("configure a password source or a credential cache", "Kerberos authentication as %s needs a password", creds.User)
		}
		k.krb = &kerberosLogin{cfg: cfg.Kerberos, creds: creds}
	case AuthNegotiate:
		if (creds.User == "") != (creds.Password == "") {
			return nil, exit.Usagef("give both, or neither to use the current logon", "negotiate authentication needs both a user name and a password, or neither")
		}
		s, err := acquireSSPI(creds)
		if err != nil {
			return nil, exit.Wrap(exit.NoPerm, err, "run on Windows as the account that may use WinRM, or use ntlm/kerberos", "cannot use the Windows logon for WinRM")
		}
		k.sspi = s
	}
	return k, nil
}

// Config returns the completed configuration (defaults filled in).
func (k *Connector) Config() Config { return k.cfg }

// Close releases the shared resources (the SSPI credentials handle, the Kerberos login
// and its renewal).
func (k *Connector) Close() error {
	if k.krb != nil {
		k.krb.close()
	}
	if k.sspi != nil {
		return k.sspi.release()
	}
	return nil
}

// Client is a WinRM client for one host. Its methods may be called from several
// goroutines, but its requests go one at a time over one kept-alive connection (per-host
// concurrency is the host's quota, not ours to spend): fan out across hosts instead.
type Client struct {
	host    string
	cfg     Config
	creds   Credentials
	t       *transporter
	wc      *winrm.Client
	url     string
	command string        // the bootstrap command line
	scripts *scriptCache  // the Connector's scripts, read and encoded once
	msgs    *msgTemplates // the Connector's shell messages, built once
	bufs    *bufPool      // the Connector's buffers
	own     *Connector    // closed with the client when New made it
}

// Client returns a client for host (a host name or IP address; see ValidHost). No
// connection is opened until the first Run.
func (k *Connector) Client(host string) (*Client, error) {
	return k.ClientTimeout(host, 0)
}

// ClientTimeout is Client with its own operation timeout: every Run on it is bounded by
// timeout instead of Config.OperationTimeout (0 keeps the Config's). The SMS Provider's
// client uses it: one provider call may write thousands of rules, far longer than a
// client action may take.
func (k *Connector) ClientTimeout(host string, timeout time.Duration) (*Client, error) {
	if err := ValidHost(host); err != nil {
		return nil, exit.Usagef("give host names without scheme, port or path", "bad host: %v", err)
	}
	if timeout < 0 {
		return nil, exit.Usagef("give a positive duration", "operation timeout %s is negative", timeout)
	}
	cfg := k.cfg
	if timeout > 0 {
		cfg.OperationTimeout = timeout
	}
	ep := winrm.NewEndpoint(host, cfg.Port, !cfg.HTTP, cfg.Insecure, cfg.CAPEM, nil, nil, cfg.OperationTimeout)
	ep.TLSServerName = cfg.TLSServerName
	var mech mechanism
	seal := false
	switch {
	case cfg.Auth == AuthNTLM && cfg.HTTP && cfg.NTLMEncryption:
		mech, seal = sealedNTLMMech{user: k.creds.User, password: k.creds.Password}, true
	case cfg.Auth == AuthNTLM:
		mech = ntlmMech{user: k.creds.User, password: k.creds.Password}
	case cfg.Auth == AuthKerberos:
		// Over plain HTTP Kerberos always seals (the host's default AllowUnencrypted=false).
		mech, seal = kerberosMech{login: k.krb, spn: cfg.Kerberos.spn(host)}, cfg.HTTP
	case cfg.Auth == AuthNegotiate:
		mech = k.sspi.mechanism(cfg.Kerberos.spn(host))
	}
	scheme := "https"
	if cfg.HTTP {
		scheme = "http"
	}
	url := scheme + "://" + hostPort(host, cfg.Port) + "/wsman"
	t := newTransporter(url, cfg, k.creds, mech, seal)
	t.roots, t.tickets, t.bufs = k.roots, k.tickets, k.bufs
	params := winrm.NewParameters(isoSeconds(cfg.PollTimeout), "en-US", envelopeSize)
	params.TransportDecorator = func() winrm.Transporter { return t }
	// NewClientWithParameters does no I/O: it calls t.Transport(ep), which builds the
	// HTTP transport (TLS roots, dialer, timeouts).
	wc, err := winrm.NewClientWithParameters(ep, k.creds.User, k.creds.Password, params)
	if err != nil {
		return nil, exit.Wrap(exit.Usage, &scrubbed{msg: k.creds.scrub(err.Error()), err: err}, "check the CA file", "cannot set up WinRM for %s", host)
	}
	return &Client{host: host, cfg: cfg, creds: k.creds, t: t, wc: wc, url: url, command: k.command, scripts: k.scripts, msgs: k.msgs, bufs: k.bufs}, nil
}

// New is NewConnector + Connector.Client for a single host; Close releases both.
func New(host string, cfg Config, creds Credentials) (*Client, error) {
	k, err := NewConnector(cfg, creds)
	if err != nil {
		return nil, err
	}
	c, err := k.Client(host)
	if err != nil {
		_ = k.Close()
		return nil, err
	}
	c.own = k
	return c, nil
}

// Host returns the target host.
func (c *Client) Host() string { return c.host }

// Requests returns how many HTTP requests the client has sent (for measurements).
func (c *Client) Requests() int64 { return c.t.requests.Load() }

// Connections returns how many TCP connections the client has opened.
func (c *Client) Connections() int64 { return c.t.dials.Load() }

// Close drops the kept-alive connection (and the Connector New made).
func (c *Client) Close() error {
	c.t.close()
	if c.own != nil {
		return c.own.Close()
	}
	return nil
}

// isoSeconds formats a duration as an xs:duration in seconds ("PT20S").
func isoSeconds(d time.Duration) string {
	s := int64(d / time.Second)
	if s < 1 {
		s = 1
	}
	return "PT" + strconv.FormatInt(s, 10) + "S"
}

func (c *Client) String() string { return fmt.Sprintf("remote.Client{%s}", c.url) }
