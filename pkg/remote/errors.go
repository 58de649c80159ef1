package remote

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/patchnight/patchnight/pkg/exit"
)

// Kind classifies a failure on one host.
type Kind string

// The kinds. Transient ones (unreachable, timeout, quota) are worth a retry.
const (
	KindAuth        Kind = "auth"        // the host refused the credentials (401, access denied)
	KindTLS         Kind = "tls"         // certificate not trusted, wrong name, expired; no TLS on the port
	KindTimeout     Kind = "timeout"     // no answer within the operation deadline
	KindUnreachable Kind = "unreachable" // connection refused or reset, connect timeout, name not resolved
	KindQuota       Kind = "quota"       // WinRM quota faults and other HTTP 5xx "busy" answers
	KindScript      Kind = "script"      // the script ran and failed: error JSON, non-zero exit, CLIXML errors
	KindProtocol    Kind = "protocol"    // an answer that is not what WS-Man or the script protocol promise
	KindCanceled    Kind = "canceled"    // the caller canceled the run
)

// Error is a failure of one operation on one host.
type Error struct {
	Host    string // the target host
	Op      string // the operation (script name), or "" outside Run
	Kind    Kind
	Message string // one readable line, e.g. "authentication failed for pc1 as LAB\svc"
	Code    string // the script's error code, the WS-Man fault code or the HTTP status; may be empty
	Hint    string // what to do about it; may be empty
	Err     error  // the underlying cause (already scrubbed of the password); may be nil

	permanent bool // an unreachable that a retry cannot fix (name not found)
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Host)
	if e.Op != "" {
		b.WriteString(": " + e.Op)
	}
	b.WriteString(": " + e.Message)
	if e.Hint != "" {
		b.WriteString(" (" + e.Hint + ")")
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// ExitCode is the process exit code of the failure (pkg/exit.Coder): a host that refused
// the credentials or denied access is exit.NoPerm, one that cannot be reached (connection
// refused, reset or timed out, name not resolved) is exit.Unavailable, anything else
// exit.Failed.
func (e *Error) ExitCode() int {
	switch e.Kind {
	case KindAuth:
		return exit.NoPerm
	case KindUnreachable:
		return exit.Unavailable
	}
	return exit.Failed
}

// Transient reports whether a retry may succeed: unreachable (except an unknown host
// name), timeout and quota.
func (e *Error) Transient() bool {
	switch e.Kind {
	case KindUnreachable:
		return !e.permanent
	case KindTimeout, KindQuota:
		return true
	}
	return false
}

// Reason is the summary bucket of the error: the kind, and for script errors the script's
// error code ("script:no-client").
func (e *Error) Reason() string {
	if e.Kind == KindScript && e.Code != "" {
		return string(e.Kind) + ":" + e.Code
	}
	return string(e.Kind)
}

// IsTransient reports whether err is an *Error worth retrying.
func IsTransient(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Transient()
}

// KindOf returns the Kind of an *Error in err's chain, or "" if there is none.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return ""
}

// scrubbed is an error whose text had the password removed; it keeps the chain for
// errors.Is/As.
type scrubbed struct {
	msg string
	err error
}

func (s *scrubbed) Error() string { return s.msg }
func (s *scrubbed) Unwrap() error { return s.err }

// httpStatusError is a non-200 answer, with the WS-Man fault when the body carries one.
type httpStatusError struct {
	status int
	fault  *wsmanFault
	body   string // first part of a body that is not a fault
}

func (e *httpStatusError) Error() string {
	if e.fault != nil {
		return fmt.Sprintf("HTTP %d: %s", e.status, e.fault.text())
	}
	if e.body != "" {
		return fmt.Sprintf("HTTP %d: %s", e.status, e.body)
	}
	return fmt.Sprintf("HTTP %d", e.status)
}

// wsmanFault is the interesting part of a SOAP fault from WinRM.
type wsmanFault struct {
	Subcode string // e.g. w:TimedOut
	Reason  string
	Code    string // WSManFault Code attribute, e.g. 2150858793
	Message string
}

func (f *wsmanFault) text() string {
	t := strings.TrimSpace(f.Message)
	if t == "" {
		t = strings.TrimSpace(f.Reason)
	}
	if t == "" {
		t = "WS-Man fault " + f.Subcode
	}
	return strings.Join(strings.Fields(t), " ")
}

// WS-Man fault codes the client acts on.
const (
	faultOperationTimeout = "2150858793" // 0x80338029: Receive long poll ended without output
	faultMaxShells        = "2150859173" // 0x803381A5: "maximum number of N concurrent shells"
	faultMaxOperations    = "2150859174" // 0x803381A6: "maximum number of N concurrent operations"
	faultAccessDenied     = "5"          // ERROR_ACCESS_DENIED
	faultEnvelopeSize     = "2150859025" // 0x80338111: the request exceeded the host's MaxEnvelopeSize
)

// parseFault extracts a SOAP fault from a response body; nil if the body has none.
func parseFault(body []byte) *wsmanFault {
	var env struct {
		Body struct {
			Fault *struct {
				Subcode string `xml:"http://www.w3.org/2003/05/soap-envelope Code>Subcode>Value"`
				Reason  string `xml:"http://www.w3.org/2003/05/soap-envelope Reason>Text"`
				Detail  struct {
					WSManFault struct {
						Code    string `xml:"Code,attr"`
						Message string `xml:",innerxml"`
					} `xml:"http://schemas.microsoft.com/wbem/wsman/1/wsmanfault WSManFault"`
				} `xml:"http://www.w3.org/2003/05/soap-envelope Detail"`
			} `xml:"http://www.w3.org/2003/05/soap-envelope Fault"`
		} `xml:"http://www.w3.org/2003/05/soap-envelope Body"`
	}
	if err := xml.Unmarshal(body, &env); err != nil || env.Body.Fault == nil {
		return nil
	}
	f := env.Body.Fault
	return &wsmanFault{
		Subcode: strings.TrimSpace(f.Subcode),
		Reason:  strings.TrimSpace(f.Reason),
		Code:    strings.TrimSpace(f.Detail.WSManFault.Code),
		Message: innerText(f.Detail.WSManFault.Message),
	}
}

// innerText returns the character data of an XML fragment (the f:Message element may
// nest f:ProviderFault and others).
func innerText(fragment string) string {
	d := xml.NewDecoder(strings.NewReader("<x>" + fragment + "</x>"))
	var b strings.Builder
	for {
		t, err := d.Token()
		if err != nil {
			break
		}
		if c, ok := t.(xml.CharData); ok {
			b.Write(c)
		}
	}
	return strings.TrimSpace(b.String())
}

func isOperationTimeout(err error) bool {
	var h *httpStatusError
	if !errors.As(err, &h) || h.fault == nil {
		return false
	}
	return h.fault.Code == faultOperationTimeout || strings.HasSuffix(h.fault.Subcode, ":TimedOut")
}

// classify turns a failure of the WinRM exchange into an *Error. parent is the caller's
// context and opCtx the operation's (to tell a cancel from a deadline), elapsed the time
// the operation ran.
func (c *Client) classify(parent, opCtx context.Context, op string, err error, elapsed time.Duration) *Error {
	var already *Error
	if errors.As(err, &already) {
		return already
	}
	e := &Error{Host: c.host, Op: op, Err: &scrubbed{msg: c.creds.scrub(err.Error()), err: err}}
	port := strconv.Itoa(c.cfg.Port)
	var (
		hs    *httpStatusError
		ua    x509.UnknownAuthorityError
		hn    x509.HostnameError
		ci    x509.CertificateInvalidError
		rh    tls.RecordHeaderError
		dns   *net.DNSError
		opErr *net.OpError
		af    *authFailure
	)
	switch {
	case parent.Err() != nil && errors.Is(parent.Err(), context.Canceled):
		e.Kind, e.Message = KindCanceled, "canceled"
	case opCtx.Err() != nil:
		e.Kind, e.Message = KindTimeout, fmt.Sprintf("no result within %s (operation timeout)", elapsed.Round(time.Millisecond))
		e.Hint = "the host may be hung, overloaded or rebooting"
	case errors.As(err, &hs):
		c.classifyStatus(e, hs)
	case errors.As(err, &af):
		e.Kind = KindAuth
		e.Message = fmt.Sprintf("cannot authenticate to %s as %s: %s", c.host, c.userLabel(), c.creds.scrub(af.err.Error()))
		e.Hint = "check the user name, the Kerberos realm and krb5.conf, or the Windows logon"
	case errors.As(err, &ua):
		e.Kind, e.Message = KindTLS, fmt.Sprintf("the certificate of %s is not trusted (signed by an unknown authority)", c.host)
		e.Hint = "give the issuing CA with the CA file setting, or check the TLS server name"
	case errors.As(err, &hn):
		e.Kind, e.Message = KindTLS, fmt.Sprintf("the certificate of %s does not match the name: %s", c.host, hn.Error())
		e.Hint = "set the TLS server name override to a name in the certificate, or address the host by that name"
	case errors.As(err, &ci):
		e.Kind, e.Message = KindTLS, fmt.Sprintf("the certificate of %s is not valid: %s", c.host, ci.Error())
		e.Hint = "renew the WinRM HTTPS listener certificate on the host"
		if ci.Reason == x509.Expired {
			e.Message = fmt.Sprintf("the certificate of %s has expired or is not yet valid", c.host)
		}
	case errors.As(err, &rh):
		e.Kind, e.Message = KindTLS, fmt.Sprintf("%s did not answer with TLS on port %s", c.host, port)
		e.Hint = "WinRM HTTPS listens on 5986, HTTP on 5985"
	case errors.As(err, &dns):
		e.Kind, e.Message = KindUnreachable, fmt.Sprintf("cannot resolve %s", c.host)
		e.Code, e.permanent = "dns", dns.IsNotFound
		e.Hint = "check the host name and DNS"
	case errors.As(err, &opErr) && opErr.Op == "dial":
		e.Kind = KindUnreachable
		switch {
		case opErr.Timeout():
			e.Message, e.Code = fmt.Sprintf("no answer to connect on port %s within %s", port, c.cfg.ConnectTimeout), "connect-timeout"
			e.Hint = "the host is off, or a firewall drops the port"
		case errors.Is(err, syscall.ECONNREFUSED):
			e.Message, e.Code = fmt.Sprintf("connection refused on port %s", port), "refused"
			e.Hint = "check that WinRM listens on port " + port + " of the host (winrm quickconfig) and the firewall lets it through"
		default:
			e.Message, e.Code = fmt.Sprintf("cannot connect on port %s: %s", port, c.creds.scrub(opErr.Err.Error())), "connect"
		}
	case errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, net.ErrClosed):
		e.Kind, e.Message, e.Code = KindUnreachable, "the connection was reset or closed by the host", "reset"
	case isTLSHandshake(err):
		e.Kind, e.Message = KindTLS, "TLS handshake failed: "+c.creds.scrub(err.Error())
		e.Hint = "check the CA file and the TLS server name"
	default:
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			e.Kind, e.Message = KindTimeout, "the host stopped answering"
			break
		}
		e.Kind, e.Message = KindProtocol, c.creds.scrub(err.Error())
	}
	return e
}

func isTLSHandshake(err error) bool {
	var ae tls.AlertError
	var cv *tls.CertificateVerificationError
	return errors.As(err, &ae) || errors.As(err, &cv) || strings.Contains(err.Error(), "tls: ")
}

func (c *Client) classifyStatus(e *Error, hs *httpStatusError) {
	e.Code = strconv.Itoa(hs.status)
	switch {
	case hs.status == 401:
		e.Kind = KindAuth
		e.Message = fmt.Sprintf("authentication failed for %s as %s", c.host, c.userLabel())
		e.Hint = "check the user name (DOMAIN\\user or user@domain), the password, and that the account may use WinRM on the host"
		if c.cfg.Auth == AuthKerberos {
			e.Hint = "the host refused the Kerberos ticket for " + c.cfg.Kerberos.spn(c.host) +
				": check that this is the host's SPN (winrm.spn) and that the account may use WinRM on the host"
		}
		if c.cfg.HTTP && c.cfg.Auth == AuthNTLM && !c.cfg.NTLMEncryption {
			e.Hint += "; over plain HTTP a host with AllowUnencrypted=false (the default) needs NTLM encryption on"
		}
	case hs.status == 403:
		e.Kind, e.Message = KindAuth, fmt.Sprintf("access denied on %s for %s", c.host, c.userLabel())
	case hs.fault != nil && hs.fault.Code == faultAccessDenied:
		e.Kind, e.Code = KindAuth, hs.fault.Code
		e.Message = fmt.Sprintf("access denied on %s for %s: %s", c.host, c.userLabel(), c.creds.scrub(hs.fault.text()))
	case hs.fault != nil && hs.fault.Code == faultEnvelopeSize:
		// Not a busy host: the same request fails again, so this is no quota to retry on.
		e.Kind, e.Code = KindProtocol, hs.fault.Code
		e.Message = "the request was larger than the host's MaxEnvelopeSize: " + c.creds.scrub(hs.fault.text())
		e.Hint = "raise MaxEnvelopeSizekb on the host, or report this: patchnight sizes its messages below 150 KB"
	case hs.fault != nil && (hs.fault.Code == faultMaxShells || hs.fault.Code == faultMaxOperations ||
		strings.Contains(strings.ToLower(hs.fault.text()), "quota")):
		e.Kind, e.Code = KindQuota, hs.fault.Code
		e.Message = "WinRM quota exceeded: " + c.creds.scrub(hs.fault.text())
		e.Hint = "lower the concurrency or raise MaxShellsPerUser / MaxConcurrentOperationsPerUser on the host"
	case hs.status >= 500 && hs.fault != nil && hs.status == 500:
		e.Kind, e.Code = KindProtocol, hs.fault.Code
		e.Message = "WS-Man fault: " + c.creds.scrub(hs.fault.text())
	case hs.status >= 500:
		e.Kind, e.Message = KindQuota, fmt.Sprintf("the host answered HTTP %d (busy)", hs.status)
	default:
		e.Kind, e.Message = KindProtocol, c.creds.scrub(hs.Error())
	}
}

func (c *Client) userLabel() string {
	if c.creds.User == "" {
		return "the current logon"
	}
	return c.creds.User
}
