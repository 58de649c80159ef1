package lab

// The lab endpoint's Kerberos acceptor, as a Windows WinRM listener does it:
//
//   - The client sends "Authorization: Negotiate <SPNEGO NegTokenInit with a krb5 AP-REQ>"
//     (or a raw krb5 token, or the "Kerberos" scheme). The endpoint decrypts the service
//     ticket with the key of the keytab (WSManKerberos.Keytab) for the principal of the
//     target host (HTTP/<Host header host>), and refuses a ticket for another principal:
//     Windows checks the SPN too.
//   - The authenticator is checked (gokrb5's service.VerifyAPREQ: clock skew, replay).
//   - When the client asks for mutual authentication, the endpoint answers, in the
//     WWW-Authenticate header of the accepting response, with an AP-REP encrypted with the
//     ticket's session key that carries an acceptor subkey of the session key's encryption
//     type and the acceptor's initial sequence number. Windows' WinRM does so: the AP-REP
//     decrypts with the session key and wrap/unwrap then use the subkey it returns
//     (observed against WinRM in dotnet/Kerberos.NET#398/#400); RFC 4121 2: with an
//     acceptor subkey both directions use it and set the AcceptorSubkey flag. Wrap tokens
//     count from the authenticator's and the AP-REP's sequence numbers (RFC 4121 4.2.6.2;
//     MIT's gss_unwrap checks this for pywinrm against Windows when sequence detection is
//     asked for, which pyspnego's default does).
//   - The connection stays authenticated. Over plain HTTP the client's sealed messages
//     (RFC 4121 wrap tokens in the multipart/encrypted envelope, see remote/krbwrap.go for
//     the layout) are opened with that key and answered sealed, sequence numbers checked.
//
// Authorization (membership of Remote Management Users) is not modelled: any principal
// the KDC vouches for is let in.
//
// The token framing and the wrap (flags, header, rotation, sealing) are written here again
// on purpose, not taken from pkg/remote: this acceptor is the only independent check of
// the client's wrap tokens (remote's own tests seal with the same code on both sides), and
// a shared helper would let a wrong flag or rotation pass on both ends.

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"sync"
	"time"

	"github.com/jcmturner/gofork/encoding/asn1"
	"github.com/jcmturner/gokrb5/v8/asn1tools"
	"github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/crypto/etype"
	"github.com/jcmturner/gokrb5/v8/gssapi"
	"github.com/jcmturner/gokrb5/v8/iana/asnAppTag"
	"github.com/jcmturner/gokrb5/v8/iana/chksumtype"
	"github.com/jcmturner/gokrb5/v8/iana/etypeID"
	"github.com/jcmturner/gokrb5/v8/iana/flags"
	"github.com/jcmturner/gokrb5/v8/iana/keyusage"
	"github.com/jcmturner/gokrb5/v8/iana/msgtype"
	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/service"
	"github.com/jcmturner/gokrb5/v8/spnego"
	"github.com/jcmturner/gokrb5/v8/types"
)

// WSManKerberos configures the endpoint's Kerberos acceptor.
type WSManKerberos struct {
	// Keytab is the path of the keytab holding the service principals' keys. It is read
	// at every Kerberos handshake, so principals added to it later are found.
	Keytab string
	// Principal is the service principal tickets must be for, "{host}" standing for the
	// request's target host (the Host header, lower case). Default "HTTP/{host}".
	Principal string
	// MaxClockSkew is the accepted clock difference (default 5 minutes, as Windows).
	MaxClockSkew time.Duration
}

// krbAccepted is the outcome of an accepted AP-REQ.
type krbAccepted struct {
	user    string      // principal@REALM
	reply   []byte      // the token for WWW-Authenticate (nil without mutual authentication)
	session *krbSession // the connection's message protection
}

// acceptKerberos verifies a Negotiate/Kerberos token for host.
func (w *WSMan) acceptKerberos(host string, token []byte) (*krbAccepted, error) {
	k := w.opts.Kerberos
	mech, wrapped, err := krbMechToken(token)
	if err != nil {
		return nil, err
	}
	body, err := krbTokenBody(mech, []byte{0x01, 0x00})
	if err != nil {
		return nil, err
	}
	var apreq messages.APReq
	if err := apreq.Unmarshal(body); err != nil {
		return nil, fmt.Errorf("AP-REQ: %w", err)
	}
	principal := k.Principal
	if principal == "" {
		principal = "HTTP/{host}"
	}
	spn := strings.ReplaceAll(principal, "{host}", host)
	if got := apreq.Ticket.SName.PrincipalNameString(); !strings.EqualFold(got, spn) {
		return nil, fmt.Errorf("the ticket is for %s, this host is %s", got, spn)
	}
	kt, err := keytab.Load(k.Keytab)
	if err != nil {
		return nil, fmt.Errorf("load the keytab: %w", err)
	}
	skew := k.MaxClockSkew
	if skew <= 0 {
		skew = 5 * time.Minute
	}
	ok, creds, err := service.VerifyAPREQ(&apreq, service.NewSettings(kt, service.DecodePAC(false), service.MaxClockSkew(skew)))
	if err != nil || !ok {
		return nil, fmt.Errorf("the AP-REQ does not verify: %v", err)
	}
	sessionKey := apreq.Ticket.DecryptedEncPart.Key
	auth := apreq.Authenticator
	mutual := types.IsFlagSet(&apreq.APOptions, flags.APOptionMutualRequired)
	if auth.Cksum.CksumType == chksumtype.GSSAPI && len(auth.Cksum.Checksum) >= 24 {
		mutual = mutual || binary.LittleEndian.Uint32(auth.Cksum.Checksum[20:24])&gssapi.ContextFlagMutual != 0
	}
	acc := &krbAccepted{user: creds.CName().PrincipalNameString() + "@" + creds.Domain()}
	if !mutual {
		key := auth.SubKey
		if len(key.KeyValue) == 0 {
			key = sessionKey
		}
		acc.session, err = newKrbSession(key, false, uint64(auth.SeqNumber), 0)
		return acc, err
	}
	et, err := crypto.GetEtype(sessionKey.KeyType)
	if err != nil {
		return nil, err
	}
	sub := types.EncryptionKey{KeyType: sessionKey.KeyType, KeyValue: make([]byte, et.GetKeyByteSize())}
	if _, err := rand.Read(sub.KeyValue); err != nil {
		return nil, err
	}
	n, err := rand.Int(rand.Reader, big.NewInt(1<<30))
	if err != nil {
		return nil, err
	}
	seq := n.Int64()
	rep, err := krbAPRep(sessionKey, auth, sub, seq)
	if err != nil {
		return nil, err
	}
	if wrapped { // answer SPNEGO in kind: accept-completed, krb5, the AP-REP
		resp := spnego.NegTokenResp{NegState: asn1.Enumerated(spnego.NegStateAcceptCompleted), SupportedMech: gssapi.OIDKRB5.OID(), ResponseToken: rep}
		if rep, err = resp.Marshal(); err != nil {
			return nil, err
		}
	}
	acc.reply = rep
	acc.session, err = newKrbSession(sub, true, uint64(auth.SeqNumber), uint64(seq))
	return acc, err
}

// krbMechToken returns the krb5 token of a SPNEGO NegTokenInit, or the token itself when
// it is a raw krb5 token; wrapped says which.
func krbMechToken(token []byte) (mech []byte, wrapped bool, err error) {
	var oid asn1.ObjectIdentifier
	if _, err := asn1.UnmarshalWithParams(token, &oid, "application,explicit,tag:0"); err != nil {
		return nil, false, fmt.Errorf("not a GSS-API token: %w", err)
	}
	if !oid.Equal(gssapi.OIDSPNEGO.OID()) {
		return token, false, nil
	}
	var s spnego.SPNEGOToken
	if err := s.Unmarshal(token); err != nil {
		return nil, false, err
	}
	if !s.Init || len(s.NegTokenInit.MechTokenBytes) == 0 {
		return nil, false, errors.New("SPNEGO token without a mechanism token")
	}
	return s.NegTokenInit.MechTokenBytes, true, nil
}

// krbTokenBody checks a krb5 GSS token's framing and returns its Kerberos message.
func krbTokenBody(tok, id []byte) ([]byte, error) {
	var oid asn1.ObjectIdentifier
	rest, err := asn1.UnmarshalWithParams(tok, &oid, "application,explicit,tag:0")
	if err != nil {
		return nil, fmt.Errorf("not a GSS-API token: %w", err)
	}
	if !oid.Equal(gssapi.OIDKRB5.OID()) && !oid.Equal(gssapi.OIDMSLegacyKRB5.OID()) {
		return nil, fmt.Errorf("mechanism %s is not Kerberos", oid)
	}
	if len(rest) < 2 || rest[0] != id[0] || rest[1] != id[1] {
		return nil, errors.New("not a krb5 AP-REQ token")
	}
	return rest[2:], nil
}

// krbAPRep builds the krb5 token of an AP-REP (RFC 4120 5.5.2) answering auth: the
// authenticator's ctime and cusec, the acceptor subkey and sequence number, encrypted
// with the ticket's session key (key usage 12).
func krbAPRep(sessionKey types.EncryptionKey, auth types.Authenticator, sub types.EncryptionKey, seq int64) ([]byte, error) {
	part := messages.EncAPRepPart{CTime: auth.CTime.UTC().Truncate(time.Second), Cusec: auth.Cusec, Subkey: sub, SequenceNumber: seq}
	b, err := asn1.Marshal(part)
	if err != nil {
		return nil, fmt.Errorf("encode EncAPRepPart: %w", err)
	}
	b = asn1tools.AddASNAppTag(b, asnAppTag.EncAPRepPart)
	enc, err := crypto.GetEncryptedData(b, sessionKey, keyusage.AP_REP_ENCPART, 0)
	if err != nil {
		return nil, fmt.Errorf("encrypt EncAPRepPart: %w", err)
	}
	rep := messages.APRep{PVNO: 5, MsgType: msgtype.KRB_AP_REP, EncPart: enc}
	rb, err := asn1.Marshal(rep)
	if err != nil {
		return nil, fmt.Errorf("encode AP-REP: %w", err)
	}
	rb = asn1tools.AddASNAppTag(rb, asnAppTag.APREP)
	oid, err := asn1.Marshal(gssapi.OIDKRB5.OID())
	if err != nil {
		return nil, err
	}
	return asn1tools.AddASNAppTag(append(append(oid, 0x02, 0x00), rb...), 0), nil
}

// krbSession is the acceptor's RFC 4121 message protection of one connection.
type krbSession struct {
	et          etype.EType
	key         types.EncryptionKey
	acceptorKey bool

	mu      sync.Mutex
	sendSeq uint64
	recvSeq uint64
}

func newKrbSession(key types.EncryptionKey, acceptorKey bool, recvSeq, sendSeq uint64) (*krbSession, error) {
	switch key.KeyType {
	case etypeID.AES128_CTS_HMAC_SHA1_96, etypeID.AES256_CTS_HMAC_SHA1_96,
		etypeID.AES128_CTS_HMAC_SHA256_128, etypeID.AES256_CTS_HMAC_SHA384_192:
	default:
		return nil, fmt.Errorf("encryption type %d: the lab seals with AES only", key.KeyType)
	}
	et, err := crypto.GetEtype(key.KeyType)
	if err != nil {
		return nil, err
	}
	return &krbSession{et: et, key: key, acceptorKey: acceptorKey, recvSeq: recvSeq, sendSeq: sendSeq}, nil
}

// Wrap token flags (RFC 4121 4.2.2).
const (
	krbSentByAcceptor = 0x01
	krbSealed         = 0x02
	krbAcceptorSubkey = 0x04
)

func (s *krbSession) tokenFlags(byAcceptor bool) byte {
	f := byte(krbSealed)
	if byAcceptor {
		f |= krbSentByAcceptor
	}
	if s.acceptorKey {
		f |= krbAcceptorSubkey
	}
	return f
}

func krbWrapHeader(fl byte, ec, rrc uint16, seq uint64) []byte {
	h := []byte{0x05, 0x04, fl, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	binary.BigEndian.PutUint16(h[4:], ec)
	binary.BigEndian.PutUint16(h[6:], rrc)
	binary.BigEndian.PutUint64(h[8:], seq)
	return h
}

// seal encrypts an answer: Windows' layout, the signature being the token header, the
// encrypted header copy, the checksum and the encrypted confounder.
func (s *krbSession) seal(plain []byte) (sealed, sig []byte) {
	s.mu.Lock()
	seq := s.sendSeq
	s.sendSeq++
	s.mu.Unlock()
	fl := s.tokenFlags(true)
	msg := append(append([]byte{}, plain...), krbWrapHeader(fl, 0, 0, seq)...)
	_, ct, err := s.et.EncryptMessage(s.key.KeyValue, msg, keyusage.GSSAPI_ACCEPTOR_SEAL)
	if err != nil {
		return nil, nil // only a failing random source gets here; the client then fails to open it
	}
	rrc := 16 + s.et.GetHMACBitLength()/8
	// Rotate right by RRC: the last rrc bytes (encrypted header copy, checksum) go first.
	rot := append(append([]byte{}, ct[len(ct)-rrc:]...), ct[:len(ct)-rrc]...)
	n := rrc + s.et.GetConfounderByteSize()
	return rot[n:], append(krbWrapHeader(fl, 0, uint16(rrc), seq), rot[:n]...)
}

// unsealRequest opens a sealed request.
func (s *krbSession) unsealRequest(body []byte) ([]byte, error) {
	length, sig, sealed, err := wsOpenEnvelope(body)
	if err != nil {
		return nil, err
	}
	tok := append(append([]byte{}, sig...), sealed...)
	if len(tok) <= 16 || tok[0] != 0x05 || tok[1] != 0x04 || tok[3] != 0xff {
		return nil, errors.New("not a wrap token")
	}
	if tok[2] != s.tokenFlags(false) {
		return nil, fmt.Errorf("wrap token flags %#02x, want %#02x", tok[2], s.tokenFlags(false))
	}
	ec := int(binary.BigEndian.Uint16(tok[4:]))
	rrc := int(binary.BigEndian.Uint16(tok[6:]))
	seq := binary.BigEndian.Uint64(tok[8:])
	rot := tok[16:]
	r := rrc % len(rot)
	ct := append(append([]byte{}, rot[r:]...), rot[:r]...) // rotate left by RRC
	plain, err := s.et.DecryptMessage(s.key.KeyValue, ct, keyusage.GSSAPI_INITIATOR_SEAL)
	if err != nil {
		return nil, fmt.Errorf("decrypt: %w", err)
	}
	if len(plain) < ec+16 {
		return nil, errors.New("short wrap token")
	}
	if subtle.ConstantTimeCompare(plain[len(plain)-16:], krbWrapHeader(tok[2], uint16(ec), 0, seq)) != 1 {
		return nil, errors.New("the encrypted header copy does not match")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if seq != s.recvSeq {
		return nil, fmt.Errorf("sequence number %d, want %d", seq, s.recvSeq)
	}
	s.recvSeq++
	plain = plain[:len(plain)-ec-16]
	if len(plain) != length {
		return nil, errors.New("sealed message length mismatch")
	}
	return plain, nil
}
