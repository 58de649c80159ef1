package lab

// Authentication of the lab WS-Man endpoint: Basic checked against WSManOptions.Users, a
// Kerberos acceptor that checks real service tickets with a keytab (wsman_krb.go), and
// a small NTLM acceptor that is real enough for the product's clients: it answers the
// NEGOTIATE message with a CHALLENGE, checks the NTLMv2 response of the AUTHENTICATE
// message against the lab password (so a wrong password fails as on Windows), and then
// keeps the connection authenticated, as Windows does, so later requests on it need no
// Authorization header. A client that asks for signing and sealing in its NEGOTIATE gets
// them (NTLMv2 session security, MS-NLMP 3.4), and its sealed messages (MS-WSMV 2.2.9.1)
// are opened and answered sealed (wsman_seal.go).

import (
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/rc4"
	"encoding/base64"
	"encoding/binary"
	"net/http"
	"strings"
	"unicode/utf16"

	//lint:ignore SA1019 NTLMv2 is defined on MD4 (MS-NLMP 3.3.2); this is a protocol double, not security
	"golang.org/x/crypto/md4"
)

// challengeHeaders writes the WWW-Authenticate offers of a 401.
func (w *WSMan) challengeHeaders(rw http.ResponseWriter) {
	if !w.opts.DisableNTLM || w.opts.Kerberos != nil {
		rw.Header().Add("WWW-Authenticate", "Negotiate")
	}
	if w.opts.Kerberos != nil {
		rw.Header().Add("WWW-Authenticate", "Kerberos")
	}
	if !w.opts.DisableBasic {
		rw.Header().Add("WWW-Authenticate", `Basic realm="WSMAN"`)
	}
}

// unauthorized answers 401 like Windows: no body, no SOAP content type.
func (w *WSMan) unauthorized(rw http.ResponseWriter, r *http.Request) {
	w.countAuthLeg(r)
	w.challengeHeaders(rw)
	rw.WriteHeader(http.StatusUnauthorized)
}

// authenticate checks a request; on failure it has written the 401 (or the NTLM
// challenge) and returns false.
func (w *WSMan) authenticate(rw http.ResponseWriter, r *http.Request) (string, bool) {
	auth := r.Header.Get("Authorization")
	if auth == "" {
		w.mu.Lock()
		user := w.conn(r).authenticated
		w.mu.Unlock()
		if user != "" {
			return user, true
		}
		w.unauthorized(rw, r)
		return "", false
	}
	scheme, data, _ := strings.Cut(auth, " ")
	switch {
	case strings.EqualFold(scheme, "Basic") && !w.opts.DisableBasic:
		user, pass, ok := r.BasicAuth()
		if ok && w.checkPassword(user, pass) {
			return user, true
		}
	case strings.EqualFold(scheme, "Negotiate") || strings.EqualFold(scheme, "NTLM") || strings.EqualFold(scheme, "Kerberos"):
		token, err := base64.StdEncoding.DecodeString(strings.TrimSpace(data))
		if err != nil {
			break
		}
		if !bytes.HasPrefix(token, ntlmSignature) {
			if w.opts.Kerberos != nil && !strings.EqualFold(scheme, "NTLM") {
				acc, err := w.acceptKerberos(wsTargetHost(r.Host), token)
				if err != nil {
					w.mu.Lock()
					w.stats.KerberosRefused++
					w.mu.Unlock()
					break
				}
				w.mu.Lock()
				c := w.conn(r)
				c.challenge, c.authenticated, c.session, c.krb = nil, acc.user, nil, acc.session
				w.mu.Unlock()
				if acc.reply != nil { // mutual authentication: the AP-REP, in the client's scheme
					rw.Header().Set("WWW-Authenticate", scheme+" "+base64.StdEncoding.EncodeToString(acc.reply))
				}
				return acc.user, true
			}
			break
		}
		if strings.EqualFold(scheme, "Kerberos") {
			break
		}
		if w.opts.DisableNTLM || len(token) < 12 {
			break
		}
		switch binary.LittleEndian.Uint32(token[8:12]) {
		case 1: // NEGOTIATE → CHALLENGE
			challenge := make([]byte, 8)
			_, _ = rand.Read(challenge)
			flags := uint32(ntlmChallengeFlags)
			if len(token) >= 16 {
				flags |= binary.LittleEndian.Uint32(token[12:16]) & ntlmSessionFlags
			}
			w.mu.Lock()
			c := w.conn(r)
			if c.challenge != nil {
				w.stats.NTLMCrossed++
			}
			c.challenge = challenge
			c.authenticated = ""
			c.session, c.krb = nil, nil
			c.pending++
			w.stats.AuthLegs++
			w.mu.Unlock()
			// The request body (if the client sent one) is not processed on this leg.
			_, _ = wsDrain(r)
			if host := wsTargetHost(r.Host); w.opts.Faults != nil {
				if f := w.opts.Faults(host); f.Kind == FaultDropAfterChallenge && w.fire(host, f) {
					rw.Header().Set("Connection", "close")
				}
			}
			rw.Header().Set("WWW-Authenticate", scheme+" "+base64.StdEncoding.EncodeToString(challengeMessage(challenge, w.opts.Domain, flags)))
			rw.WriteHeader(http.StatusUnauthorized)
			return "", false
		case 3: // AUTHENTICATE
			w.mu.Lock()
			c := w.conn(r)
			challenge := c.challenge
			c.challenge = nil
			w.mu.Unlock()
			if challenge == nil {
				w.mu.Lock()
				w.stats.NTLMCrossed++
				w.mu.Unlock()
				break
			}
			user, sess, ok := w.checkNTLMv2(token, challenge)
			if !ok {
				if w.answersAnotherConnection(token) {
					w.mu.Lock()
					w.stats.NTLMCrossed++
					w.mu.Unlock()
				}
				break
			}
			w.mu.Lock()
			c = w.conn(r)
			c.authenticated = user
			c.session, c.krb = sess, nil
			w.mu.Unlock()
			return user, true
		}
	}
	w.unauthorized(rw, r)
	return "", false
}

// answersAnotherConnection tells whether a refused AUTHENTICATE would have passed on
// another connection, with the CHALLENGE pending there: legs crossed, not a wrong
// password (only counted; Windows refuses it all the same).
func (w *WSMan) answersAnotherConnection(token []byte) bool {
	w.mu.Lock()
	var pending [][]byte
	for _, c := range w.conns {
		if c.challenge != nil {
			pending = append(pending, c.challenge)
		}
	}
	w.mu.Unlock()
	for _, ch := range pending {
		if _, _, ok := w.checkNTLMv2(token, ch); ok {
			return true
		}
	}
	return false
}

func wsDrain(r *http.Request) (int64, error) {
	var buf [4096]byte
	var n int64
	for {
		k, err := r.Body.Read(buf[:])
		n += int64(k)
		if err != nil || n > wsMaxRequestBody {
			return n, err
		}
	}
}

// wsBareName strips "DOMAIN\" and "@domain" from an account name.
func wsBareName(user string) string {
	if _, after, ok := strings.Cut(user, `\`); ok {
		user = after
	}
	if before, _, ok := strings.Cut(user, "@"); ok {
		user = before
	}
	return strings.ToLower(user)
}

// password returns the lab password of an account.
func (w *WSMan) password(user string) (string, bool) {
	name := wsBareName(user)
	for u, p := range w.opts.Users {
		if wsBareName(u) == name {
			return p, true
		}
	}
	return "", false
}

func (w *WSMan) checkPassword(user, pass string) bool {
	want, ok := w.password(user)
	return ok && hmac.Equal([]byte(want), []byte(pass))
}

var ntlmSignature = []byte("NTLMSSP\x00")

// NTLM negotiate flags used in the CHALLENGE (MS-NLMP 2.2.2.5).
const (
	ntlmUnicode           = 0x00000001
	ntlmRequestTarget     = 0x00000004
	ntlmSign              = 0x00000010
	ntlmSeal              = 0x00000020
	ntlmNTLM              = 0x00000200
	ntlmAlwaysSign        = 0x00008000
	ntlmTargetTypeDomain  = 0x00010000
	ntlmExtendedSecurity  = 0x00080000
	ntlmTargetInfo        = 0x00800000
	ntlm128               = 0x20000000
	ntlmKeyExch           = 0x40000000
	ntlm56                = 0x80000000
	ntlmChallengeFlags    = ntlmUnicode | ntlmRequestTarget | ntlmNTLM | ntlmTargetTypeDomain | ntlmExtendedSecurity | ntlmTargetInfo
	ntlmSessionFlags      = ntlmSign | ntlmSeal | ntlmAlwaysSign | ntlm128 | ntlmKeyExch | ntlm56 // granted when the client asks
	ntlmChallengeFixedLen = 48
)

// challengeMessage builds an NTLM CHALLENGE (type 2) message:
//
//	0      8          12            20       24          32         40           48
//	+------+----------+-------------+--------+-----------+----------+------------+---------+-----------+
//	|NTLMSSP\0| type=2 | TargetName  | flags  | challenge | reserved | TargetInfo | domain  | AvEOL     |
//	|      |  uint32  | len,max,off |        |  8 bytes  |  8 bytes | len,max,off| UTF-16LE| 4 zero B. |
//	+------+----------+-------------+--------+-----------+----------+------------+---------+-----------+
//
// Never LM_KEY; SIGN, SEAL, KEY_EXCH, 128 and 56 only when the client asked for them
// (go-ntlmssp refuses KEY_EXCH).
func challengeMessage(challenge []byte, domain string, flags uint32) []byte {
	target := ntlmUTF16(strings.ToUpper(domain))
	info := []byte{0, 0, 0, 0} // MsvAvEOL
	m := make([]byte, ntlmChallengeFixedLen, ntlmChallengeFixedLen+len(target)+len(info))
	copy(m, ntlmSignature)
	binary.LittleEndian.PutUint32(m[8:], 2)
	ntlmPutField(m[12:], len(target), ntlmChallengeFixedLen)
	binary.LittleEndian.PutUint32(m[20:], flags)
	copy(m[24:32], challenge)
	ntlmPutField(m[40:], len(info), ntlmChallengeFixedLen+len(target))
	m = append(m, target...)
	return append(m, info...)
}

func ntlmPutField(b []byte, length, offset int) {
	binary.LittleEndian.PutUint16(b[0:], uint16(length))
	binary.LittleEndian.PutUint16(b[2:], uint16(length))
	binary.LittleEndian.PutUint32(b[4:], uint32(offset))
}

// field reads a (len, maxlen, offset) payload field of an NTLM message.
func ntlmField(m []byte, at int) ([]byte, bool) {
	if len(m) < at+8 {
		return nil, false
	}
	n := int(binary.LittleEndian.Uint16(m[at:]))
	off := int(binary.LittleEndian.Uint32(m[at+4:]))
	if off < 0 || n < 0 || off+n > len(m) || off+n < off {
		return nil, false
	}
	return m[off : off+n], true
}

// checkNTLMv2 verifies an AUTHENTICATE (type 3) message against the lab password of the
// user it names (MS-NLMP 3.3.2): NTProofStr = HMAC_MD5(NTOWFv2, challenge ‖ blob) where
// NTOWFv2 = HMAC_MD5(MD4(UTF-16LE(password)), UTF-16LE(UPPER(user) ‖ domain)). When the
// message negotiates sealing it also returns the server side of the session security.
func (w *WSMan) checkNTLMv2(m, challenge []byte) (string, *ntlmSession, bool) {
	if len(m) < 64 {
		return "", nil, false
	}
	nt, ok1 := ntlmField(m, 20)
	dom, ok2 := ntlmField(m, 28)
	usr, ok3 := ntlmField(m, 36)
	if !ok1 || !ok2 || !ok3 || len(nt) < 16+28 {
		return "", nil, false
	}
	user, domain := ntlmFromUTF16(usr), ntlmFromUTF16(dom)
	pass, ok := w.password(user)
	if !ok {
		return "", nil, false
	}
	h := md4.New()
	h.Write(ntlmUTF16(pass))
	ntowf := ntlmHMACMD5(h.Sum(nil), ntlmUTF16(strings.ToUpper(user)+domain))
	proof := ntlmHMACMD5(ntowf, challenge, nt[16:])
	if !hmac.Equal(proof, nt[:16]) {
		return "", nil, false
	}
	if domain != "" {
		user = domain + `\` + user
	}
	flags := binary.LittleEndian.Uint32(m[60:64])
	if flags&(ntlmSeal|ntlmSign) == 0 {
		return user, nil, true
	}
	// MS-NLMP 3.3.2: SessionBaseKey = HMAC_MD5(NTOWFv2, NTProofStr) = KeyExchangeKey;
	// with KEY_EXCH the client sent ExportedSessionKey RC4-encrypted under it.
	key := ntlmHMACMD5(ntowf, proof)
	if flags&ntlmKeyExch != 0 {
		enc, ok := ntlmField(m, 52)
		if !ok || len(enc) != 16 {
			return "", nil, false
		}
		c, err := rc4.NewCipher(key)
		if err != nil {
			return "", nil, false
		}
		exported := make([]byte, 16)
		c.XORKeyStream(exported, enc)
		key = exported
	}
	sess, err := newNTLMSession(flags, key)
	if err != nil {
		return "", nil, false
	}
	return user, sess, true
}

func ntlmHMACMD5(key []byte, data ...[]byte) []byte {
	mac := hmac.New(md5.New, key)
	for _, d := range data {
		mac.Write(d)
	}
	return mac.Sum(nil)
}

func ntlmUTF16(s string) []byte {
	u := utf16.Encode([]rune(s))
	b := make([]byte, 2*len(u))
	for i, c := range u {
		binary.LittleEndian.PutUint16(b[2*i:], c)
	}
	return b
}

func ntlmFromUTF16(b []byte) string {
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = binary.LittleEndian.Uint16(b[2*i:])
	}
	return string(utf16.Decode(u))
}
