package lab

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"time"
)

// TestPKI is a throw-away certificate authority and one server certificate it signed, for
// serving the lab WS-Man endpoint over HTTPS in tests and demos. Nothing is written to disk.
type TestPKI struct {
	CAPEM   []byte          // the CA certificate, PEM: what a client trusts (remote.Config.CAPEM)
	CertPEM []byte          // the server certificate, PEM
	KeyPEM  []byte          // the server's private key, PEM (PKCS #8)
	Cert    tls.Certificate // the server certificate and key, ready for tls.Config
}

// TestPKIOptions shape the server certificate.
type TestPKIOptions struct {
	// Names are the DNS names and IP addresses the certificate is valid for
	// ("localhost" and 127.0.0.1 if empty). A name may be a wildcard ("*.lab.test").
	Names []string
	// Expired issues a certificate whose validity ended yesterday.
	Expired bool
}

// NewTestPKI creates a CA and a server certificate (ECDSA P-256).
func NewTestPKI(opts TestPKIOptions) (*TestPKI, error) {
	names := opts.Names
	if len(names) == 0 {
		names = []string{"localhost", "127.0.0.1"}
	}
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("test CA key: %w", err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          wsSerial(),
		Subject:               pkix.Name{CommonName: "patchnight lab test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("test CA certificate: %w", err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, fmt.Errorf("test CA certificate: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("test server key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: wsSerial(),
		Subject:      pkix.Name{CommonName: names[0]},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if opts.Expired {
		tmpl.NotBefore, tmpl.NotAfter = now.Add(-48*time.Hour), now.Add(-24*time.Hour)
	}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("test server certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("test server key: %w", err)
	}
	p := &TestPKI{
		CAPEM:   pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
	}
	p.Cert, err = tls.X509KeyPair(p.CertPEM, p.KeyPEM)
	if err != nil {
		return nil, fmt.Errorf("test server key pair: %w", err)
	}
	return p, nil
}

// ServerTLSConfig returns a TLS configuration that serves the certificate (HTTP/1.1 only,
// like WinRM).
func (p *TestPKI) ServerTLSConfig() *tls.Config {
	return &tls.Config{
		Certificates: []tls.Certificate{p.Cert},
		NextProtos:   []string{"http/1.1"},
		MinVersion:   tls.VersionTLS12,
	}
}

func wsSerial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return big.NewInt(time.Now().UnixNano())
	}
	return n
}
