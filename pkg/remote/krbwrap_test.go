package remote

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"

	"github.com/jcmturner/gokrb5/v8/iana/etypeID"
	"github.com/jcmturner/gokrb5/v8/types"
)

// TestKrbSealerLayout seals messages between an initiator and an acceptor that share a
// key and checks the WinRM layout (RFC 4121 wrap token, header/data split as Windows and
// gss_wrap_iov make it) and the protections: tampering, replay, reflection.
func TestKrbSealerLayout(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name        string
		etype       int32
		keyLen      int
		acceptorKey bool
		sigLen      int // 16 header + 16 encrypted header copy + checksum + 16 confounder
	}{
		{"aes256-sha1-acceptor-subkey", etypeID.AES256_CTS_HMAC_SHA1_96, 32, true, 60},
		{"aes128-sha1-initiator-subkey", etypeID.AES128_CTS_HMAC_SHA1_96, 16, false, 60},
		{"aes128-sha256", etypeID.AES128_CTS_HMAC_SHA256_128, 16, true, 64},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			key := types.EncryptionKey{KeyType: tc.etype, KeyValue: bytes.Repeat([]byte{7}, tc.keyLen)}
			cl, err := newKrbSealer(key, tc.acceptorKey, true, 100, 5000)
			if err != nil {
				t.Fatal(err)
			}
			srv, err := newKrbSealer(key, tc.acceptorKey, false, 5000, 100)
			if err != nil {
				t.Fatal(err)
			}
			for i, msg := range []string{"<s:Envelope>first</s:Envelope>", "", strings.Repeat("x", 70000)} {
				sig, sealed, err := cl.seal([]byte(msg))
				if err != nil {
					t.Fatal(err)
				}
				if len(sig) != tc.sigLen || len(sealed) != len(msg) {
					t.Fatalf("signature %d bytes, data %d; want %d and %d", len(sig), len(sealed), tc.sigLen, len(msg))
				}
				wantFlags := byte(krbFlagSealed)
				if tc.acceptorKey {
					wantFlags |= krbFlagAcceptorSubkey
				}
				if sig[0] != 5 || sig[1] != 4 || sig[2] != wantFlags || sig[3] != 0xff ||
					binary.BigEndian.Uint16(sig[4:]) != 0 || int(binary.BigEndian.Uint16(sig[6:])) != tc.sigLen-32 ||
					binary.BigEndian.Uint64(sig[8:]) != uint64(100+i) {
					t.Fatalf("token header % x", sig[:16])
				}
				if len(msg) > 8 && bytes.Contains(sealed, []byte(msg[:8])) {
					t.Fatalf("plain text in the sealed data")
				}
				got, err := srv.open(sig, sealed)
				if err != nil || string(got) != msg {
					t.Fatalf("acceptor opened %q, %v", got, err)
				}
				// The answer comes back the other way.
				sig, sealed, err = srv.seal([]byte(msg))
				if err != nil {
					t.Fatal(err)
				}
				if sig[2] != wantFlags|krbFlagSentByAcceptor {
					t.Fatalf("acceptor flags %#x", sig[2])
				}
				if got, err := cl.open(sig, sealed); err != nil || string(got) != msg {
					t.Fatalf("initiator opened %q, %v", got, err)
				}
			}

			sig, sealed, _ := cl.seal([]byte("<s:Envelope>tamper</s:Envelope>"))
			bad := bytes.Clone(sealed)
			bad[3] ^= 1
			if _, err := srv.open(sig, bad); err == nil {
				t.Errorf("a tampered message was accepted")
			}
			if _, err := cl.open(sig, sealed); err == nil {
				t.Errorf("the initiator accepted its own message (reflection)")
			}
			if _, err := srv.open(sig, sealed); err != nil {
				t.Errorf("the untampered message: %v", err)
			}
			if _, err := srv.open(sig, sealed); err == nil || !strings.Contains(err.Error(), "sequence") {
				t.Errorf("a replayed message: %v, want a sequence refusal", err)
			}
		})
	}
}

// TestKrbSealerRefusesRC4: RC4-HMAC has another token format (RFC 4757).
func TestKrbSealerRefusesRC4(t *testing.T) {
	t.Parallel()
	if _, err := newKrbSealer(types.EncryptionKey{KeyType: etypeID.RC4_HMAC, KeyValue: make([]byte, 16)}, true, true, 0, 0); err == nil ||
		!strings.Contains(err.Error(), "AES") {
		t.Errorf("RC4 key: %v, want a refusal naming AES", err)
	}
}
