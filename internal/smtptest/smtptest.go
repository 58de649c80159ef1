// Package smtptest starts a real SMTP server on loopback for tests: Debian's aiosmtpd
// (python3-aiosmtpd) with its Mailbox handler, so that a test sends through the real
// client code and reads back exactly what the server received. A test that needs it fails
// (never skips) when aiosmtpd is missing.
package smtptest

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/mail"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TLS modes of the test server.
const (
	Plain    = "none"     // no TLS
	StartTLS = "starttls" // STARTTLS offered and required before MAIL
	Implicit = "implicit" // SMTPS
)

// Server is a running aiosmtpd.
type Server struct {
	Host   string // 127.0.0.1
	Port   int
	CAFile string // PEM of the server's self-signed certificate (TLS modes)
	dir    string // the Maildir
}

// Python finds a python3 that can import aiosmtpd: Debian's /usr/bin/python3 first (the
// package python3-aiosmtpd installs there), then python3 on PATH. "" when none can.
func Python() string {
	cands := []string{"/usr/bin/python3"}
	if p, err := exec.LookPath("python3"); err == nil {
		cands = append(cands, p)
	}
	for _, p := range cands {
		if exec.Command(p, "-c", "import aiosmtpd").Run() == nil {
			return p
		}
	}
	return ""
}

// Start runs aiosmtpd on a free loopback port in mode (Plain, StartTLS, Implicit) until
// the test ends.
func Start(t testing.TB, mode string) *Server {
	t.Helper()
	py := Python()
	if py == "" {
		t.Fatal("no python3 with aiosmtpd: install the Debian package python3-aiosmtpd (.ci/run does)")
	}
	dir := t.TempDir()
	s := &Server{Host: "127.0.0.1", Port: freePort(t), dir: filepath.Join(dir, "mail")}
	args := []string{"-m", "aiosmtpd", "-n", "-d", "-l", net.JoinHostPort(s.Host, strconv.Itoa(s.Port)),
		"-c", "aiosmtpd.handlers.Mailbox"}
	if mode != Plain {
		cert, key := selfSigned(t, dir)
		s.CAFile = cert
		if mode == Implicit {
			args = append(args, "--smtpscert", cert, "--smtpskey", key)
		} else {
			args = append(args, "--tlscert", cert, "--tlskey", key)
		}
	}
	args = append(args, s.dir)
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, py, args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start aiosmtpd: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
	})
	// aiosmtpd -d logs "Server is listening on HOST:PORT" once it accepts connections.
	ready := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		var seen []string
		for sc.Scan() {
			if strings.Contains(sc.Text(), "Server is listening") {
				ready <- nil
				for sc.Scan() { // keep draining so that the server never blocks on its log
				}
				return
			}
			seen = append(seen, sc.Text())
		}
		ready <- fmt.Errorf("aiosmtpd ended before listening: %s", strings.Join(seen, " | "))
	}()
	select {
	case err := <-ready:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("aiosmtpd did not start listening within 30s")
	}
	return s
}

// Messages returns every message the server received, in arrival order.
func (s *Server) Messages(t testing.TB) []*mail.Message {
	t.Helper()
	var files []string
	for _, sub := range []string{"new", "cur"} {
		m, _ := filepath.Glob(filepath.Join(s.dir, sub, "*"))
		files = append(files, m...)
	}
	type msg struct {
		mod time.Time
		m   *mail.Message
	}
	var out []msg
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		m, err := mail.ReadMessage(fh)
		if err != nil {
			fh.Close()
			t.Fatalf("received message %s: %v", f, err)
		}
		st, _ := fh.Stat()
		// The body stays readable after Close only if read now.
		b, _ := readAll(m)
		fh.Close()
		m.Body = strings.NewReader(b)
		out = append(out, msg{st.ModTime(), m})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].mod.Before(out[j].mod) })
	res := make([]*mail.Message, len(out))
	for i := range out {
		res[i] = out[i].m
	}
	return res
}

func readAll(m *mail.Message) (string, error) {
	var b strings.Builder
	_, err := bufio.NewReader(m.Body).WriteTo(&b)
	return b.String(), err
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// selfSigned writes a certificate for 127.0.0.1 and its key into dir.
func selfSigned(t testing.TB, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}
