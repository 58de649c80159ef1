// Package kdctest runs a real MIT Kerberos KDC (Debian's krb5-kdc, krb5-admin-server and
// krb5-user) on loopback for a test binary: its own realm database, krb5.conf and kdc.conf
// in a temporary directory, a free loopback port for UDP and TCP, a user principal with a
// random password, HTTP/<host> service principals and their keytab. It is used only by
// tests; CI installs the packages (.ci/run).
//
// The KDC's configuration reaches the MIT tools through KRB5_CONFIG and KRB5_KDC_PROFILE in
// the environment of those child processes only; the Go clients under test are given the
// krb5.conf path (remote.Config.Kerberos.Krb5Conf). Nothing changes the test process's own
// environment, so parallel tests are safe.
package kdctest

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Realm is the test realm.
const Realm = "LAB.TEST"

// binaries are the MIT tools the helper needs, with the Debian package that has each.
var binaries = []struct{ name, pkg string }{
	{"krb5kdc", "krb5-kdc"},
	{"kdb5_util", "krb5-kdc"},
	{"kadmin.local", "krb5-admin-server"},
}

// KDC is a running MIT KDC.
type KDC struct {
	Dir      string // the temporary directory with the database and the configuration
	Krb5Conf string // krb5.conf for clients: realm LAB.TEST, the KDC on 127.0.0.1:Port
	Keytab   string // the keytab of every service principal added so far
	Port     int
	User     string // the user principal's name (without the realm)
	Password string // the user principal's random password

	env  []string // the environment of the MIT tools
	cmd  *exec.Cmd
	done chan struct{}

	mu       sync.Mutex // serialises kadmin.local runs (one database)
	addMu    sync.Mutex // serialises AddService; guards services
	services map[string]bool
}

// Start creates a realm in a new temporary directory, adds the user "patcher" with a random
// password (pre-authentication required, as Active Directory requires it), and starts
// krb5kdc in the foreground (-n), waiting until it serves. If the MIT
// tools are missing, the error says which package to install.
func Start(ctx context.Context) (*KDC, error) {
	for _, b := range binaries {
		if _, err := lookPath(b.name); err != nil {
			return nil, fmt.Errorf("the Kerberos tests need a real MIT KDC, and %s is missing: install it with "+
				"`apt-get install krb5-kdc krb5-admin-server krb5-user` (package %s; .ci/run does this)", b.name, b.pkg)
		}
	}
	dir, err := os.MkdirTemp("", "patchnight-kdc-")
	if err != nil {
		return nil, err
	}
	k := &KDC{Dir: dir, User: "patcher", Password: secret(), services: map[string]bool{}, done: make(chan struct{})}
	if err := k.start(ctx); err != nil {
		k.Close()
		return nil, err
	}
	return k, nil
}

// lookPath finds an MIT tool on PATH or in /usr/sbin (not on every user's PATH).
func lookPath(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, d := range []string{"/usr/sbin", "/sbin", "/usr/local/sbin"} {
		p := filepath.Join(d, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found", name)
}

func secret() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand does not fail on supported systems
	}
	return hex.EncodeToString(b[:])
}

// freePort returns a loopback port free for both TCP and UDP at the time of asking.
func freePort() (int, error) {
	for range 20 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		port := l.Addr().(*net.TCPAddr).Port
		u, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
		l.Close()
		if err == nil {
			u.Close()
			return port, nil
		}
	}
	return 0, errors.New("no loopback port free for both TCP and UDP")
}

func (k *KDC) start(ctx context.Context) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	k.Port = port
	k.Krb5Conf = filepath.Join(k.Dir, "krb5.conf")
	k.Keytab = filepath.Join(k.Dir, "http.keytab")
	kdcConf := filepath.Join(k.Dir, "kdc.conf")
	krb5 := fmt.Sprintf(`[libdefaults]
	default_realm = %[1]s
	dns_lookup_realm = false
	dns_lookup_kdc = false
	rdns = false
	udp_preference_limit = 1
	default_ccache_name = FILE:%[2]s/ccache

[realms]
	%[1]s = {
		kdc = 127.0.0.1:%[3]d
	}

[domain_realm]
	.lab.test = %[1]s
	.lab.patchnight.test = %[1]s
`, Realm, k.Dir, port)
	kdc := fmt.Sprintf(`[kdcdefaults]
	kdc_ports = %[3]d
	kdc_tcp_ports = %[3]d

[realms]
	%[1]s = {
		database_name = %[2]s/principal
		key_stash_file = %[2]s/stash
		acl_file = %[2]s/kadm5.acl
		max_life = 10h 0m 0s
		supported_enctypes = aes256-cts-hmac-sha1-96:normal aes128-cts-hmac-sha1-96:normal
	}

[logging]
	kdc = STDERR
`, Realm, k.Dir, port)
	for name, content := range map[string]string{k.Krb5Conf: krb5, kdcConf: kdc, filepath.Join(k.Dir, "kadm5.acl"): ""} {
		if err := os.WriteFile(name, []byte(content), 0o600); err != nil {
			return err
		}
	}
	k.env = append(os.Environ(), "KRB5_CONFIG="+k.Krb5Conf, "KRB5_KDC_PROFILE="+kdcConf, "KRB5CCNAME=FILE:"+filepath.Join(k.Dir, "ccache"))
	if err := k.tool(ctx, "kdb5_util", "create", "-s", "-r", Realm, "-P", secret()); err != nil {
		return err
	}
	if err := k.admin(ctx, "addprinc +requires_preauth -pw "+k.Password+" "+k.User); err != nil {
		return err
	}
	bin, _ := lookPath("krb5kdc")
	k.cmd = exec.Command(bin, "-n", "-r", Realm)
	k.cmd.Env = k.env
	stderr, err := k.cmd.StderrPipe()
	if err != nil {
		return err
	}
	if err := k.cmd.Start(); err != nil {
		return fmt.Errorf("start krb5kdc: %w", err)
	}
	// The KDC logs to stderr ([logging] kdc = STDERR); "commencing operation" means it serves.
	ready := make(chan error, 1)
	go func() {
		defer close(k.done)
		sc := bufio.NewScanner(stderr)
		var log []string
		signalled := false
		for sc.Scan() {
			line := sc.Text()
			if !signalled {
				log = append(log, line)
				if strings.Contains(line, "commencing operation") {
					ready <- nil
					signalled = true
				}
			}
		}
		if !signalled {
			ready <- fmt.Errorf("krb5kdc stopped before it served: %s", strings.Join(log, " | "))
		}
		_ = k.cmd.Wait()
	}()
	t := time.NewTimer(30 * time.Second)
	defer t.Stop()
	select {
	case err := <-ready:
		return err
	case <-t.C:
		return errors.New("krb5kdc did not say it serves within 30 s")
	case <-ctx.Done():
		return ctx.Err()
	}
}

// tool runs one MIT tool with the KDC's environment.
func (k *KDC) tool(ctx context.Context, name string, args ...string) error {
	bin, err := lookPath(name)
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = k.env
	out, err := cmd.CombinedOutput()
	if err != nil {
		// The output never holds a password: kadmin.local does not echo its query.
		return fmt.Errorf("%s %s: %w: %s", name, args[0], err, strings.TrimSpace(string(out)))
	}
	return nil
}

// admin runs one kadmin.local query.
func (k *KDC) admin(ctx context.Context, query string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.tool(ctx, "kadmin.local", "-r", Realm, "-q", query)
}

// AddService adds the principal HTTP/<host> (host in lower case) with a random key and
// writes its keys to the keytab (k.Keytab). Adding a host twice is a no-op.
func (k *KDC) AddService(ctx context.Context, host string) error {
	spn := "HTTP/" + strings.ToLower(host)
	k.addMu.Lock()
	defer k.addMu.Unlock()
	if k.services[spn] {
		return nil
	}
	if err := k.admin(ctx, "addprinc -randkey "+spn); err != nil {
		return err
	}
	// The keytab is replaced in one rename, never appended to in place: endpoints read it
	// at every handshake, in parallel with tests adding hosts.
	part := filepath.Join(k.Dir, "part-"+secret()+".keytab")
	defer os.Remove(part)
	if err := k.admin(ctx, "ktadd -k "+part+" "+spn); err != nil {
		return err
	}
	add, err := os.ReadFile(part)
	if err != nil {
		return err
	}
	old, err := os.ReadFile(k.Keytab)
	switch {
	case errors.Is(err, os.ErrNotExist):
		old = add[:2] // the file format version (0x0502)
	case err != nil:
		return err
	}
	if len(add) < 2 || len(old) < 2 {
		return fmt.Errorf("ktadd wrote a keytab of %d bytes", len(add))
	}
	tmp := k.Keytab + ".new"
	if err := os.WriteFile(tmp, append(old, add[2:]...), 0o600); err != nil {
		return err
	}
	if err := os.Rename(tmp, k.Keytab); err != nil {
		return err
	}
	k.services[spn] = true
	return nil
}

// Principal is the user's principal name, user@LAB.TEST.
func (k *KDC) Principal() string { return k.User + "@" + Realm }

// Close stops the KDC and removes its directory.
func (k *KDC) Close() {
	if k.cmd != nil && k.cmd.Process != nil {
		_ = k.cmd.Process.Kill()
		<-k.done
	}
	_ = os.RemoveAll(k.Dir)
}

// Main starts a KDC, stores it in *kdc, runs the tests and exits with their code. Use it
// as the body of TestMain. A KDC that cannot start fails the test binary with the reason
// (install krb5-kdc ...): it never skips.
func Main(m *testing.M, kdc **KDC) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	k, err := Start(ctx)
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL: kdctest:", err)
		os.Exit(1)
	}
	*kdc = k
	code := m.Run()
	k.Close()
	os.Exit(code)
}

// String names the KDC for logs.
func (k *KDC) String() string { return "MIT KDC " + Realm + " on 127.0.0.1:" + strconv.Itoa(k.Port) }
