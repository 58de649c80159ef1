package lab

// NTLM message sealing for the lab WS-Man endpoint: the server side of NTLMv2 session
// security with extended session security (MS-NLMP 3.4.4.2), and the multipart/encrypted
// envelope WinRM carries sealed messages in over plain HTTP (MS-WSMV 2.2.9.1.1).

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"crypto/rc4"
	"encoding/binary"
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
)

// wsSealer protects the messages of one authenticated connection: NTLM (ntlmSession) or
// Kerberos (krbSession, wsman_krb.go).
type wsSealer interface {
	// seal encrypts an answer and returns it with its signature (the envelope's header part).
	seal(plain []byte) (sealed, sig []byte)
	// unsealRequest opens a multipart/encrypted request body.
	unsealRequest(body []byte) ([]byte, error)
}

// sealer returns the connection's message protection, or nil; w.mu must be held.
func (c *wsConn) sealer() wsSealer {
	switch {
	case c.krb != nil:
		return c.krb
	case c.session != nil:
		return c.session
	}
	return nil
}

// ntlmSession seals and unseals the messages of one authenticated connection.
type ntlmSession struct {
	mu               sync.Mutex
	flags            uint32
	outSign, inSign  []byte
	out, in          *rc4.Cipher
	outSeq, inSeqNum uint32
}

var (
	ntlmClientSign = []byte("session key to client-to-server signing key magic constant\x00")
	ntlmServerSign = []byte("session key to server-to-client signing key magic constant\x00")
	ntlmClientSeal = []byte("session key to client-to-server sealing key magic constant\x00")
	ntlmServerSeal = []byte("session key to server-to-client sealing key magic constant\x00")
)

func newNTLMSession(flags uint32, exported []byte) (*ntlmSession, error) {
	if flags&ntlmExtendedSecurity == 0 {
		return nil, errors.New("sealing without extended session security is not supported")
	}
	sealKey := func(constant []byte) []byte {
		k := exported
		switch {
		case flags&ntlm128 != 0:
		case flags&ntlm56 != 0:
			k = exported[:7]
		default:
			k = exported[:5]
		}
		sum := md5.Sum(append(append([]byte{}, k...), constant...))
		return sum[:]
	}
	signKey := func(constant []byte) []byte {
		sum := md5.Sum(append(append([]byte{}, exported...), constant...))
		return sum[:]
	}
	out, err := rc4.NewCipher(sealKey(ntlmServerSeal))
	if err != nil {
		return nil, err
	}
	in, err := rc4.NewCipher(sealKey(ntlmClientSeal))
	if err != nil {
		return nil, err
	}
	return &ntlmSession{flags: flags, outSign: signKey(ntlmServerSign), inSign: signKey(ntlmClientSign), out: out, in: in}, nil
}

// signature computes the 16-byte NTLMSSP_MESSAGE_SIGNATURE (extended session security):
// version 1 ‖ first 8 bytes of HMAC_MD5(signKey, seq ‖ message), RC4-encrypted with the
// sealing handle under KEY_EXCH ‖ seq.
func (s *ntlmSession) signature(key []byte, seq uint32, msg []byte, handle *rc4.Cipher) []byte {
	var seqb [4]byte
	binary.LittleEndian.PutUint32(seqb[:], seq)
	mac := hmac.New(md5.New, key)
	mac.Write(seqb[:])
	mac.Write(msg)
	sum := mac.Sum(nil)[:8]
	if s.flags&ntlmKeyExch != 0 {
		handle.XORKeyStream(sum, sum)
	}
	sig := make([]byte, 0, 16)
	sig = binary.LittleEndian.AppendUint32(sig, 1)
	sig = append(sig, sum...)
	return append(sig, seqb[:]...)
}

// seal encrypts a message for the client and signs it.
func (s *ntlmSession) seal(plain []byte) (sealed, sig []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sealed = make([]byte, len(plain))
	s.out.XORKeyStream(sealed, plain)
	sig = s.signature(s.outSign, s.outSeq, plain, s.out)
	s.outSeq++
	return sealed, sig
}

// unseal decrypts a client message and checks its signature.
func (s *ntlmSession) unseal(sealed, sig []byte) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(sig) != 16 {
		return nil, errors.New("bad signature length")
	}
	plain := make([]byte, len(sealed))
	s.in.XORKeyStream(plain, sealed)
	want := s.signature(s.inSign, s.inSeqNum, plain, s.in)
	if !hmac.Equal(want, sig) {
		return nil, errors.New("signature check failed")
	}
	s.inSeqNum++
	return plain, nil
}

const (
	wsSealBoundary    = "--Encrypted Boundary"
	wsSealProtocol    = "application/HTTP-SPNEGO-session-encrypted"
	wsSealContentType = `multipart/encrypted;protocol="` + wsSealProtocol + `";boundary="Encrypted Boundary"`
	wsSealOctet       = "\tContent-Type: application/octet-stream\r\n"
)

// wsSealEnvelope builds the multipart/encrypted body (see remote's ntlm.go for the layout).
func wsSealEnvelope(plainLen int, sealed, sig []byte) []byte {
	var b bytes.Buffer
	b.WriteString(wsSealBoundary + "\r\n\tContent-Type: " + wsSealProtocol + "\r\n")
	b.WriteString("\tOriginalContent: type=application/soap+xml;charset=UTF-8;Length=" + strconv.Itoa(plainLen) + "\r\n")
	b.WriteString(wsSealBoundary + "\r\n" + wsSealOctet)
	b.Write(binary.LittleEndian.AppendUint32(nil, uint32(len(sig))))
	b.Write(sig)
	b.Write(sealed)
	b.WriteString(wsSealBoundary + "--\r\n")
	return b.Bytes()
}

// wsOpenEnvelope parses a multipart/encrypted body.
func wsOpenEnvelope(body []byte) (length int, sig, sealed []byte, err error) {
	bad := errors.New("malformed sealed message")
	i := bytes.Index(body, []byte("Length="))
	if i < 0 {
		return 0, nil, nil, bad
	}
	j := bytes.IndexByte(body[i:], '\r')
	if j < 0 {
		return 0, nil, nil, bad
	}
	length, err = strconv.Atoi(string(body[i+len("Length=") : i+j]))
	if err != nil || length < 0 {
		return 0, nil, nil, bad
	}
	k := bytes.Index(body, []byte(wsSealOctet))
	if k < 0 {
		return 0, nil, nil, bad
	}
	p := bytes.TrimSuffix(body[k+len(wsSealOctet):], []byte(wsSealBoundary+"--\r\n"))
	if len(p) < 4 {
		return 0, nil, nil, bad
	}
	n := int(binary.LittleEndian.Uint32(p)) // 16 for NTLM, 60 for Kerberos AES-SHA1: the mechanism checks it
	if n < 0 || len(p) < 4+n {
		return 0, nil, nil, bad
	}
	return length, p[4 : 4+n], p[4+n:], nil
}

// unsealRequest replaces a sealed request body by the plain message.
func (s *ntlmSession) unsealRequest(body []byte) ([]byte, error) {
	length, sig, sealed, err := wsOpenEnvelope(body)
	if err != nil {
		return nil, err
	}
	plain, err := s.unseal(sealed, sig)
	if err != nil {
		return nil, err
	}
	if len(plain) != length {
		return nil, errors.New("sealed message length mismatch")
	}
	return plain, nil
}

// sealWriter buffers a response and sends it sealed.
type sealWriter struct {
	rw     http.ResponseWriter
	s      wsSealer
	header http.Header
	status int
	buf    bytes.Buffer
	hijack bool
}

func newSealWriter(rw http.ResponseWriter, s wsSealer) *sealWriter {
	return &sealWriter{rw: rw, s: s, header: http.Header{}}
}

func (w *sealWriter) Header() http.Header { return w.header }

func (w *sealWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}

func (w *sealWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.buf.Write(p)
}

// Hijack hands the connection to the fault injection.
func (w *sealWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	hj, ok := w.rw.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("not hijackable")
	}
	w.hijack = true
	return hj.Hijack()
}

// flush seals the buffered body and writes the response.
func (w *sealWriter) flush() {
	if w.hijack {
		return
	}
	if w.status == 0 {
		w.status = http.StatusOK
	}
	for k, v := range w.header {
		if !strings.EqualFold(k, "Content-Type") && !strings.EqualFold(k, "Content-Length") {
			w.rw.Header()[k] = v
		}
	}
	if w.buf.Len() == 0 {
		w.rw.WriteHeader(w.status)
		return
	}
	plain := w.buf.Bytes()
	sealed, sig := w.s.seal(plain)
	body := wsSealEnvelope(len(plain), sealed, sig)
	w.rw.Header().Set("Content-Type", wsSealContentType)
	w.rw.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.rw.WriteHeader(w.status)
	_, _ = w.rw.Write(body)
}
