package remote

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"

	azntlm "github.com/Azure/go-ntlmssp"
	bgntlm "github.com/bodgit/ntlmssp"
)

// ntlmMech is NTLMv2 authentication without message protection (go-ntlmssp, the library
// masterzen/winrm's ClientNTLM uses): NEGOTIATE with an empty body, CHALLENGE, then
// AUTHENTICATE carrying the message.
type ntlmMech struct{ user, password string }

type ntlmCtx struct{ m ntlmMech }

func (m ntlmMech) begin() (secContext, []byte, bool, error) {
	_, domain, _ := azntlm.GetDomain(m.user)
	tok, err := azntlm.NewNegotiateMessage(domain, "")
	if err != nil {
		return nil, nil, false, fmt.Errorf("NTLM negotiate message: %w", err)
	}
	return &ntlmCtx{m}, tok, false, nil
}

func (c *ntlmCtx) step(in []byte) ([]byte, bool, error) {
	user, _, domainNeeded := azntlm.GetDomain(c.m.user)
	out, err := azntlm.ProcessChallenge(in, user, c.m.password, domainNeeded)
	if err != nil {
		return nil, false, fmt.Errorf("NTLM challenge: %w", err)
	}
	return out, true, nil
}

func (c *ntlmCtx) release() {}

// splitUser returns the domain and the account of DOMAIN\user or user@domain.
func splitUser(u string) (domain, user string) {
	if d, a, ok := strings.Cut(u, `\`); ok {
		return d, a
	}
	if a, d, ok := strings.Cut(u, "@"); ok {
		return d, a
	}
	return "", u
}

// sealedNTLMMech is NTLMv2 with signing and sealing (bodgit/ntlmssp, as masterzen/winrm's
// Encryption uses): the connection is authenticated with empty messages, then every SOAP
// message travels sealed in the multipart/encrypted envelope of MS-WSMV 2.2.9.1.
type sealedNTLMMech struct{ user, password string }

type sealedNTLMCtx struct{ cl *bgntlm.Client }

// sealer is a security context that can seal messages once complete.
type sealer interface {
	sealer() (messageSealer, error)
}

func (m sealedNTLMMech) begin() (secContext, []byte, bool, error) {
	domain, user := splitUser(m.user)
	cl, err := bgntlm.NewClient(bgntlm.SetUserInfo(user, m.password), bgntlm.SetDomain(domain), bgntlm.SetVersion(bgntlm.DefaultVersion()))
	if err != nil {
		return nil, nil, false, fmt.Errorf("NTLM client: %w", err)
	}
	tok, err := cl.Authenticate(nil, nil)
	if err != nil {
		return nil, nil, false, fmt.Errorf("NTLM negotiate message: %w", err)
	}
	return &sealedNTLMCtx{cl}, tok, false, nil
}

func (c *sealedNTLMCtx) step(in []byte) ([]byte, bool, error) {
	out, err := c.cl.Authenticate(in, nil)
	if err != nil {
		return nil, false, fmt.Errorf("NTLM challenge: %w", err)
	}
	return out, false, nil
}

func (c *sealedNTLMCtx) release() {}

func (c *sealedNTLMCtx) sealer() (messageSealer, error) {
	s := c.cl.SecuritySession()
	if !c.cl.Complete() || s == nil {
		return nil, errors.New("the host did not agree to NTLM signing and sealing")
	}
	return &ntlmSealer{s: s}, nil
}

// ntlmSealer wraps and unwraps messages of one authenticated connection.
type ntlmSealer struct{ s *bgntlm.SecuritySession }

const (
	sealBoundary      = "--Encrypted Boundary"
	sealProtocol      = "application/HTTP-SPNEGO-session-encrypted"
	sealedContentType = `multipart/encrypted;protocol="` + sealProtocol + `";boundary="Encrypted Boundary"`
)

// wrap seals a SOAP message:
//
//	--Encrypted Boundary\r\n
//	\tContent-Type: application/HTTP-SPNEGO-session-encrypted\r\n
//	\tOriginalContent: type=application/soap+xml;charset=UTF-8;Length=<plain length>\r\n
//	--Encrypted Boundary\r\n
//	\tContent-Type: application/octet-stream\r\n
//	<signature length: uint32 LE><signature: 16 bytes><sealed message>--Encrypted Boundary--\r\n
func (s *ntlmSealer) wrap(plain []byte) ([]byte, error) {
	sealed, sig, err := s.s.Wrap(plain)
	if err != nil {
		return nil, fmt.Errorf("NTLM seal: %w", err)
	}
	return sealEnvelope(plain, sealed, sig), nil
}

func sealEnvelope(plain, sealed, sig []byte) []byte {
	var b bytes.Buffer
	b.WriteString(sealBoundary + "\r\n\tContent-Type: " + sealProtocol + "\r\n")
	b.WriteString("\tOriginalContent: type=application/soap+xml;charset=UTF-8;Length=" + strconv.Itoa(len(plain)) + "\r\n")
	b.WriteString(sealBoundary + "\r\n\tContent-Type: application/octet-stream\r\n")
	var n [4]byte
	binary.LittleEndian.PutUint32(n[:], uint32(len(sig)))
	b.Write(n[:])
	b.Write(sig)
	b.Write(sealed)
	b.WriteString(sealBoundary + "--\r\n")
	return b.Bytes()
}

// unwrap opens a sealed answer. Bodies that are not multipart/encrypted (an empty 401)
// pass unchanged.
func (s *ntlmSealer) unwrap(contentType string, body []byte) ([]byte, error) {
	return unwrapEnvelope(contentType, body, 16, func(sig, sealed []byte) ([]byte, error) { return s.s.Unwrap(sealed, sig) })
}

// unwrapEnvelope opens a sealed answer of either mechanism: a body that is not
// multipart/encrypted passes unchanged; otherwise the envelope (openEnvelope, sigLen as
// there) is parsed, open decrypts it, and the plaintext must have the length the envelope
// states.
func unwrapEnvelope(contentType string, body []byte, sigLen int, open func(sig, sealed []byte) ([]byte, error)) ([]byte, error) {
	if !strings.HasPrefix(strings.ToLower(strings.TrimSpace(contentType)), "multipart/encrypted") {
		return body, nil
	}
	length, sig, sealed, err := openEnvelope(body, sigLen)
	if err != nil {
		return nil, err
	}
	plain, err := open(sig, sealed)
	if err != nil {
		return nil, fmt.Errorf("sealed answer: %w", err)
	}
	if len(plain) != length {
		return nil, fmt.Errorf("sealed answer: %d bytes, header says %d", len(plain), length)
	}
	return plain, nil
}

// openEnvelope parses the multipart/encrypted envelope (see wrap). sigLen is the
// signature length the mechanism uses (16 for NTLM), or 0 for any (Kerberos: it depends on
// the encryption type).
func openEnvelope(body []byte, sigLen int) (length int, sig, sealed []byte, err error) {
	bad := func(what string) (int, []byte, []byte, error) {
		return 0, nil, nil, errors.New("malformed sealed message: " + what)
	}
	const lenKey = "Length="
	i := bytes.Index(body, []byte(lenKey))
	if i < 0 {
		return bad("no OriginalContent length")
	}
	j := bytes.IndexByte(body[i:], '\r')
	if j < 0 {
		return bad("unterminated OriginalContent")
	}
	length, err = strconv.Atoi(string(body[i+len(lenKey) : i+j]))
	if err != nil || length < 0 {
		return bad("bad length")
	}
	const octet = "\tContent-Type: application/octet-stream\r\n"
	k := bytes.Index(body, []byte(octet))
	if k < 0 {
		return bad("no octet-stream part")
	}
	payload := body[k+len(octet):]
	payload = bytes.TrimSuffix(payload, []byte(sealBoundary+"--\r\n"))
	if len(payload) < 4 {
		return bad("short payload")
	}
	n := int(binary.LittleEndian.Uint32(payload))
	if n < 0 || (sigLen > 0 && n != sigLen) || len(payload) < 4+n {
		return bad("bad signature length")
	}
	return length, payload[4 : 4+n], payload[4+n:], nil
}
