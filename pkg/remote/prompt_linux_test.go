//go:build linux

package remote_test

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"unsafe"

	"github.com/patchnight/patchnight/pkg/remote"
)

// openPTY opens a pseudo-terminal pair: the master (the "keyboard") and the slave (what
// the prompt reads).
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("open /dev/ptmx: %v", err)
	}
	var unlock int32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, m.Fd(), syscall.TIOCSPTLCK, uintptr(unsafe.Pointer(&unlock))); e != 0 {
		t.Fatalf("unlock pty: %v", e)
	}
	var n uint32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, m.Fd(), syscall.TIOCGPTN, uintptr(unsafe.Pointer(&n))); e != 0 {
		t.Fatalf("pty number: %v", e)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY|syscall.O_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("open pty slave: %v", err)
	}
	t.Cleanup(func() { s.Close(); m.Close() })
	return m, s
}

// promptWriter tells when the prompt has been written.
type promptWriter struct {
	mu     sync.Mutex
	b      bytes.Buffer
	wanted string
	seen   chan struct{}
	once   sync.Once
}

func (p *promptWriter) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.b.Write(b)
	if strings.Contains(p.b.String(), p.wanted) {
		p.once.Do(func() { close(p.seen) })
	}
	return len(b), nil
}

func TestCredentialsFromPromptOnATerminal(t *testing.T) {
	t.Parallel()
	master, slave := openPTY(t)
	out := &promptWriter{wanted: `WinRM password for LAB\u: `, seen: make(chan struct{})}
	type result struct {
		c   remote.Credentials
		err error
	}
	done := make(chan result, 1)
	go func() {
		c, err := remote.CredentialsFromPrompt(`LAB\u`, slave, out)
		done <- result{c, err}
	}()
	<-out.seen
	if _, err := master.WriteString("pty-secret-99\n"); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil || r.c.User != `LAB\u` || r.c.Password != "pty-secret-99" {
		t.Fatalf("got %v, %v", r.c, r.err)
	}
	if strings.Contains(out.b.String(), "pty-secret") {
		t.Errorf("the prompt output shows the password: %q", out.b.String())
	}
}
