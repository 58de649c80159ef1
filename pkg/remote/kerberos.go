package remote

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/jcmturner/gofork/encoding/asn1"
	"github.com/jcmturner/gokrb5/v8/asn1tools"
	"github.com/jcmturner/gokrb5/v8/client"
	"github.com/jcmturner/gokrb5/v8/config"
	"github.com/jcmturner/gokrb5/v8/credentials"
	"github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/gssapi"
	"github.com/jcmturner/gokrb5/v8/iana/chksumtype"
	"github.com/jcmturner/gokrb5/v8/iana/flags"
	"github.com/jcmturner/gokrb5/v8/iana/keyusage"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/spnego"
	"github.com/jcmturner/gokrb5/v8/types"

	"github.com/patchnight/patchnight/pkg/exit"
)

// kerberosLogin is one Kerberos login (gokrb5) shared by every host of a Connector: the
// TGT is requested once, service tickets are cached per SPN by the gokrb5 client. (The
// masterzen/winrm ClientKerberos logs in again for every SOAP message.)
type kerberosLogin struct {
	cfg   KerberosConfig
	creds Credentials

	once sync.Once
	cl   *client.Client
	err  error

	mu       sync.Mutex
	lastAuth time.Time // the time of the last authenticator (authTime)
}

// authTime is the time of a new authenticator of this login: now to the microsecond, but
// always after the last one it gave. A service takes a second authenticator of the same
// client with the same ctime and cusec for a replay (RFC 4120 3.2.3) and refuses it; at a
// few hundred hosts a second two AP-REQs in the same microsecond are to be expected, and
// a fixed SPN (KerberosConfig.SPN) sends them to one service.
func (k *kerberosLogin) authTime(now time.Time) time.Time {
	k.mu.Lock()
	defer k.mu.Unlock()
	t := now.UTC().Truncate(time.Microsecond)
	if !t.After(k.lastAuth) {
		t = k.lastAuth.Add(time.Microsecond)
	}
	k.lastAuth = t
	return t
}

func (k *kerberosLogin) client() (*client.Client, error) {
	k.once.Do(func() { k.cl, k.err = k.login() })
	return k.cl, k.err
}

// close ends the login (gokrb5 renews sessions in the background until Destroy). A login
// still in progress is waited for.
func (k *kerberosLogin) close() {
	k.once.Do(func() { k.err = errors.New("the Kerberos login is closed") })
	if k.cl != nil {
		k.cl.Destroy()
	}
}

// principal returns the user and realm of the login (realm from the configuration, the
// user name, or krb5.conf's default_realm).
func (k *kerberosLogin) principal(conf *config.Config) (user, realm string) {
	user, realm = k.creds.User, k.cfg.Realm
	if d, a, ok := strings.Cut(user, `\`); ok {
		user = a
		if realm == "" {
			realm = strings.ToUpper(d)
		}
	}
	if a, d, ok := strings.Cut(user, "@"); ok {
		user = a
		if realm == "" {
			realm = strings.ToUpper(d)
		}
	}
	if realm == "" && conf != nil {
		realm = conf.LibDefaults.DefaultRealm
	}
	return user, realm
}

func (k *kerberosLogin) login() (*client.Client, error) {
	path := k.cfg.Krb5Conf
	if path == "" {
		path = os.Getenv("KRB5_CONFIG")
	}
	if path == "" {
		path = "/etc/krb5.conf"
	}
	conf, err := config.Load(path)
	if err != nil {
		return nil, exit.Wrap(exit.Usage, err, "set winrm.krb5_conf to a readable krb5.conf that names the realm's KDCs",
			"cannot load the Kerberos configuration %s", path)
	}
	if k.cfg.CCache != "" {
		cc, err := credentials.LoadCCache(k.cfg.CCache)
		if err != nil {
			return nil, exit.Wrap(exit.NoPerm, err, "run kinit again, or give a password", "cannot load the Kerberos credential cache %s", k.cfg.CCache)
		}
		cl, err := client.NewFromCCache(cc, conf, client.DisablePAFXFAST(true))
		if err != nil {
			return nil, exit.Wrap(exit.NoPerm, err, "run kinit again, or give a password", "cannot use the Kerberos credential cache %s", k.cfg.CCache)
		}
		return cl, nil
	}
	user, realm := k.principal(conf)
	if realm == "" {
		return nil, exit.Usagef("set winrm.realm, or give the user as user@REALM", "no Kerberos realm for %s", k.creds.User)
	}
	cl := client.NewWithPassword(user, realm, k.creds.Password, conf, client.DisablePAFXFAST(true))
	if err := cl.Login(); err != nil {
		return nil, k.loginError(user+"@"+realm, err)
	}
	return cl, nil
}

// loginError turns a failed AS exchange into one clear line with what to do. gokrb5's
// errors carry the KDC's error names in their text (no typed chain), so they are matched
// by name; the password is scrubbed from whatever is kept.
func (k *kerberosLogin) loginError(principal string, err error) error {
	text := err.Error()
	cause := &scrubbed{msg: k.creds.scrub(text), err: err}
	switch {
	case strings.Contains(text, "KDC_ERR_PREAUTH_FAILED") || strings.Contains(text, "password/keytab incorrect"):
		return &exit.Error{Code: exit.NoPerm, Msg: "Kerberos login as " + principal + " failed: the KDC refused the password",
			Hint: "check the password in winrm.password_env or winrm.credential_file"}
	case strings.Contains(text, "KDC_ERR_C_PRINCIPAL_UNKNOWN"):
		return &exit.Error{Code: exit.NoPerm, Msg: "Kerberos login as " + principal + " failed: the KDC does not know this principal",
			Hint: "check winrm.user (user@REALM) and winrm.realm"}
	case strings.Contains(text, "KDC_ERR_CLIENT_REVOKED"):
		return &exit.Error{Code: exit.NoPerm, Msg: "Kerberos login as " + principal + " failed: the account is disabled or locked out",
			Hint: "ask a domain administrator to unlock the account"}
	case strings.Contains(text, "KDC_ERR_KEY_EXPIRED"):
		return &exit.Error{Code: exit.NoPerm, Msg: "Kerberos login as " + principal + " failed: the password has expired",
			Hint: "change the account's password"}
	case strings.Contains(text, "sending to KDC") || strings.Contains(text, "networking") || strings.Contains(text, "dial"):
		return &exit.Error{Code: exit.Unavailable, Msg: "Kerberos login as " + principal + " failed: no KDC of the realm answered",
			Hint: "check the realm's kdc lines in krb5.conf and that TCP/UDP port 88 of the KDCs is reachable"}
	}
	return &exit.Error{Code: exit.NoPerm, Msg: "Kerberos login as " + principal + " failed: " + oneLineText(cause.Error()),
		Hint: "check the user, the password, the realm and krb5.conf"}
}

func oneLineText(s string) string { return strings.Join(strings.Fields(s), " ") }

// Login logs in to Kerberos now (AS exchange) when the Connector uses Kerberos, so that a
// wrong password or an unknown principal ends the command with one clear line before any
// host is tried, instead of failing every host the same way. It is a no-op for the other
// methods. The result is kept: every client of the Connector shares the login.
func (k *Connector) Login(ctx context.Context) error {
	if k.krb == nil {
		return nil
	}
	done := make(chan error, 1)
	go func() { // gokrb5 takes no context: wait for it, or for ctx
		_, err := k.krb.client()
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("log in to Kerberos: %w", ctx.Err())
	}
}

// kerberosMech authenticates with a Kerberos AP-REQ for the host's SPN in a SPNEGO
// NegTokenInit (HTTP Negotiate, one leg), asking for mutual authentication,
// confidentiality and integrity. The host answers with its AP-REP in WWW-Authenticate,
// which the client verifies; over plain HTTP the context then seals every message
// (RFC 4121 wrap tokens, krbwrap.go).
type kerberosMech struct {
	login *kerberosLogin
	spn   string
}

// The GSS flags of the authenticator checksum (RFC 4121 4.1.1.1).
const krbGSSFlags = gssapi.ContextFlagMutual | gssapi.ContextFlagReplay | gssapi.ContextFlagSequence |
	gssapi.ContextFlagConf | gssapi.ContextFlagInteg

func (m kerberosMech) begin() (secContext, []byte, bool, error) {
	cl, err := m.login.client()
	if err != nil {
		return nil, nil, false, err
	}
	tkt, key, err := cl.GetServiceTicket(m.spn)
	if err != nil {
		if strings.Contains(err.Error(), "KDC_ERR_S_PRINCIPAL_UNKNOWN") {
			return nil, nil, false, fmt.Errorf("the KDC has no service principal %s (address the host by the DNS name its SPN uses; setspn -L shows them)", m.spn)
		}
		return nil, nil, false, fmt.Errorf("get a Kerberos service ticket for %s: %s", m.spn, m.login.creds.scrub(err.Error()))
	}
	et, err := crypto.GetEtype(key.KeyType)
	if err != nil {
		return nil, nil, false, fmt.Errorf("the service ticket for %s uses encryption type %d: %w", m.spn, key.KeyType, err)
	}
	auth, err := types.NewAuthenticator(cl.Credentials.Domain(), cl.Credentials.CName())
	if err != nil {
		return nil, nil, false, fmt.Errorf("build the Kerberos authenticator: %w", err)
	}
	at := m.login.authTime(time.Now())
	auth.CTime, auth.Cusec = at.Truncate(time.Second), at.Nanosecond()/int(time.Microsecond)
	// An initiator subkey and sequence number of our own (RFC 4121 2, 4.2.2).
	if err := auth.GenerateSeqNumberAndSubKey(key.KeyType, et.GetKeyByteSize()); err != nil {
		return nil, nil, false, fmt.Errorf("build the Kerberos authenticator: %w", err)
	}
	auth.Cksum = types.Checksum{CksumType: chksumtype.GSSAPI, Checksum: gssChecksum(krbGSSFlags)}
	apreq, err := messages.NewAPReq(tkt, key, auth)
	if err != nil {
		return nil, nil, false, fmt.Errorf("build the Kerberos AP-REQ: %w", err)
	}
	types.SetFlag(&apreq.APOptions, flags.APOptionMutualRequired)
	b, err := apreq.Marshal()
	if err != nil {
		return nil, nil, false, fmt.Errorf("encode the Kerberos AP-REQ: %w", err)
	}
	mech, err := krb5Token(krbTokAPReq, b)
	if err != nil {
		return nil, nil, false, err
	}
	init := spnego.SPNEGOToken{Init: true, NegTokenInit: spnego.NegTokenInit{
		MechTypes: []asn1.ObjectIdentifier{gssapi.OIDKRB5.OID()}, MechTokenBytes: mech}}
	tok, err := init.Marshal()
	if err != nil {
		return nil, nil, false, fmt.Errorf("encode the SPNEGO token: %w", err)
	}
	return &krbContext{spn: m.spn, key: key, auth: auth}, tok, true, nil
}

// gssChecksum is the 24-byte authenticator checksum of RFC 4121 4.1.1: Lgth 16, no
// channel bindings (zero Bnd), the context flags.
func gssChecksum(fl uint32) []byte {
	c := make([]byte, 24)
	binary.LittleEndian.PutUint32(c[0:4], 16)
	binary.LittleEndian.PutUint32(c[20:24], fl)
	return c
}

// The krb5 GSS token IDs (RFC 4121 4.1).
var (
	krbTokAPReq = []byte{0x01, 0x00}
	krbTokAPRep = []byte{0x02, 0x00}
	krbTokError = []byte{0x03, 0x00}
)

// krb5Token frames a Kerberos message as a GSS-API initial context token (RFC 2743 3.1):
// [APPLICATION 0] { krb5 OID, TOK_ID, message }.
func krb5Token(tokID, msg []byte) ([]byte, error) {
	oid, err := asn1.Marshal(gssapi.OIDKRB5.OID())
	if err != nil {
		return nil, fmt.Errorf("encode the krb5 OID: %w", err)
	}
	b := append(append(oid, tokID...), msg...)
	return asn1tools.AddASNAppTag(b, 0), nil
}

// krbContext is the initiator's side of one Kerberos security context (one connection).
type krbContext struct {
	spn  string
	key  types.EncryptionKey // the ticket's session key
	auth types.Authenticator // ours: the initiator subkey and sequence number

	done      bool
	acceptor  types.EncryptionKey // the acceptor subkey from the AP-REP, if any
	acceptSeq int64               // the acceptor's initial sequence number
}

// step is called with the token of a 401: the host refused the AP-REQ (often with a
// KRB-ERROR saying why).
func (c *krbContext) step(in []byte) ([]byte, bool, error) {
	if why := krbErrorText(in); why != "" {
		return nil, false, fmt.Errorf("the host refused the Kerberos ticket for %s: %s", c.spn, why)
	}
	return nil, false, fmt.Errorf("the host refused the Kerberos ticket for %s", c.spn)
}

func (c *krbContext) release() {}

// finish verifies the host's AP-REP (mutual authentication), given in the WWW-Authenticate
// header of the answer that accepted the AP-REQ. in is nil when the host sent none: that
// is accepted when the caller does not need a sealing context (HTTPS).
func (c *krbContext) finish(in []byte, needed bool) error {
	if in == nil {
		if needed {
			return fmt.Errorf("the host %s accepted the Kerberos ticket but sent no AP-REP: mutual authentication and message encryption are impossible", c.spn)
		}
		return nil
	}
	mech, err := spnegoResponse(in)
	if err != nil {
		return err
	}
	if mech == nil { // accept-completed without a mech token
		if needed {
			return fmt.Errorf("the host %s sent no AP-REP", c.spn)
		}
		return nil
	}
	msg, err := krb5TokenBody(mech, krbTokAPRep)
	if err != nil {
		return fmt.Errorf("the host's mutual authentication token: %w", err)
	}
	var rep messages.APRep
	if err := rep.Unmarshal(msg); err != nil {
		return fmt.Errorf("the host's AP-REP: %w", err)
	}
	plain, err := crypto.DecryptEncPart(rep.EncPart, c.key, keyusage.AP_REP_ENCPART)
	if err != nil {
		return fmt.Errorf("the host's AP-REP does not decrypt with the session key (not the service the ticket is for?): %w", err)
	}
	var part messages.EncAPRepPart
	if err := part.Unmarshal(plain); err != nil {
		return fmt.Errorf("the host's AP-REP: %w", err)
	}
	// RFC 4120 3.2.5: the AP-REP echoes the authenticator's time; this proves the host
	// holds the service key.
	if part.CTime.Unix() != c.auth.CTime.Unix() || part.Cusec != c.auth.Cusec {
		return errors.New("the host's AP-REP does not answer our authenticator (mutual authentication failed)")
	}
	c.acceptor, c.acceptSeq, c.done = part.Subkey, part.SequenceNumber, true
	return nil
}

// sealer returns the message protection of the completed context: the acceptor subkey
// when the AP-REP carries one (as Windows' does), else our own subkey (RFC 4121 2).
func (c *krbContext) sealer() (messageSealer, error) {
	if !c.done {
		return nil, errors.New("the Kerberos context is not complete: no AP-REP from the host")
	}
	key, acceptorKey := c.auth.SubKey, false
	if len(c.acceptor.KeyValue) > 0 {
		key, acceptorKey = c.acceptor, true
	}
	if len(key.KeyValue) == 0 {
		key = c.key
	}
	return newKrbSealer(key, acceptorKey, true, uint64(c.auth.SeqNumber), uint64(c.acceptSeq))
}

// spnegoResponse returns the mech token of the host's answer: a SPNEGO NegTokenResp
// (Negotiate) or a raw krb5 token (the "Kerberos" scheme, or a Negotiate host that
// answers in kind). A rejecting NegTokenResp is an error.
func spnegoResponse(in []byte) ([]byte, error) {
	if len(in) > 0 && in[0] == 0xa1 {
		var r spnego.NegTokenResp
		if err := r.Unmarshal(in); err != nil {
			return nil, fmt.Errorf("the host's SPNEGO answer: %w", err)
		}
		switch r.State() {
		case spnego.NegStateAcceptCompleted:
		case spnego.NegStateReject:
			return nil, errors.New("the host rejected the Kerberos authentication (SPNEGO reject)")
		default:
			return nil, fmt.Errorf("the host's SPNEGO answer has state %d, want accept-completed", r.State())
		}
		if len(r.ResponseToken) == 0 {
			return nil, nil
		}
		return r.ResponseToken, nil
	}
	return in, nil
}

// krb5TokenBody checks the framing of a krb5 GSS token and returns its message.
func krb5TokenBody(tok, wantID []byte) ([]byte, error) {
	var oid asn1.ObjectIdentifier
	rest, err := asn1.UnmarshalWithParams(tok, &oid, "application,explicit,tag:0")
	if err != nil {
		return nil, fmt.Errorf("not a GSS-API token: %w", err)
	}
	if !oid.Equal(gssapi.OIDKRB5.OID()) && !oid.Equal(gssapi.OIDMSLegacyKRB5.OID()) {
		return nil, fmt.Errorf("mechanism %s is not Kerberos", oid)
	}
	if len(rest) < 2 {
		return nil, errors.New("short krb5 token")
	}
	if !bytes.Equal(rest[:2], wantID) {
		if bytes.Equal(rest[:2], krbTokError) {
			var e messages.KRBError
			if e.Unmarshal(rest[2:]) == nil {
				return nil, fmt.Errorf("KRB-ERROR %s", strings.TrimSpace(e.Error()))
			}
		}
		return nil, fmt.Errorf("krb5 token type %x, want %x", rest[:2], wantID)
	}
	return rest[2:], nil
}

// krbErrorText describes a KRB-ERROR a host sent in a 401 (through SPNEGO or raw), or "".
func krbErrorText(in []byte) string {
	mech, err := spnegoResponse(in)
	if err != nil {
		return err.Error()
	}
	if mech == nil {
		return ""
	}
	if _, err := krb5TokenBody(mech, krbTokAPRep); err != nil && strings.HasPrefix(err.Error(), "KRB-ERROR") {
		return err.Error()
	}
	return ""
}
