package lock

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/patchnight/patchnight/pkg/exit"
)

// The test binary acts as the lock-holding child process when holderEnv is set.
const (
	holderEnv = "PATCHNIGHT_LOCK_HOLDER"
	dirEnv    = "PATCHNIGHT_LOCK_DIR"
)

func TestMain(m *testing.M) {
	if os.Getenv(holderEnv) != "" {
		holdLock(os.Getenv(dirEnv)) // holds the lock until stdin closes
	}
	os.Exit(m.Run())
}

// holdLock takes the lock of dir, says "locked", and keeps it until stdin closes.
func holdLock(dir string) {
	unlock, err := Try(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "lock holder:", err)
		os.Exit(3)
	}
	fmt.Println("locked")
	bufio.NewReader(os.Stdin).ReadString('\n') // returns at EOF
	unlock()
	os.Exit(0)
}

// startLockHolder starts a child process that holds the lock of dir until its stdin closes.
func startLockHolder(t *testing.T, dir string) (*exec.Cmd, func()) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), holderEnv+"=1", dirEnv+"="+dir)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "locked" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("lock holder said %q, %v", line, err)
	}
	return cmd, func() { stdin.Close() }
}

func TestLockHeldByAnotherProcess(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cmd, release := startLockHolder(t, dir)

	_, err := Try(dir)
	var le *HeldError
	if !errors.As(err, &le) {
		t.Fatalf("Try while held: %v", err)
	}
	if le.PID != cmd.Process.Pid || le.Since.IsZero() || exit.Code(err) != exit.Unavailable {
		t.Errorf("locked error %+v, code %d", le, exit.Code(err))
	}
	msg := err.Error()
	if !strings.Contains(msg, "another patchnight run holds the lock since ") || strings.Contains(msg, "\n") {
		t.Errorf("message %q", msg)
	}
	// Waiting gives up when the context ends, with the same error.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Wait(ctx, dir, time.Millisecond); !errors.As(err, &le) {
		t.Errorf("Wait with an ended context: %v", err)
	}

	release()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("lock holder: %v", err)
	}
	unlock, err := Try(dir)
	if err != nil {
		t.Fatalf("Try after release: %v", err)
	}
	unlock()
}

// A killed holder leaves no stale lock: the OS releases it.
func TestLockReleasedWhenHolderIsKilled(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cmd, release := startLockHolder(t, dir)
	defer release()
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	unlock, err := Try(dir)
	if err != nil {
		t.Fatalf("Try after the holder was killed: %v", err)
	}
	unlock()
}

// Wait waits its turn: it gets the lock once the holder releases it.
func TestLockContextWaits(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	unlock, err := Try(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Try(dir); err == nil {
		t.Fatal("second Try in the same process succeeded")
	}
	got := make(chan error, 1)
	started := make(chan struct{})
	go func() {
		close(started)
		u, err := Wait(context.Background(), dir, time.Millisecond)
		if err == nil {
			u()
		}
		got <- err
	}()
	<-started
	unlock()
	if err := <-got; err != nil {
		t.Fatalf("Wait after release: %v", err)
	}
}
