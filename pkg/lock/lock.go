// Package lock is the runner's single-instance lock and the rule for the state directory
// that holds it (and the journal): created owner-only, narrowed when someone widened it.
//
// The lock is an OS file lock (flock on Unix, LockFileEx on Windows), released by the OS when
// the process dies, so a killed runner never leaves a stale lock. Who holds it is written to
// a separate file, because a locked file cannot be read on Windows.
package lock

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/gofrs/flock"

	"github.com/patchnight/patchnight/pkg/exit"
)

// Files in the state directory: the lock, and who holds it.
const (
	File      = "run.lock"
	OwnerFile = "run.lock.json"
)

// HeldError says the lock is held by another run.
type HeldError struct {
	Path  string    // the lock file
	PID   int       // holder's process ID, 0 if unknown
	Host  string    // holder's computer
	Since time.Time // when it took the lock; zero if unknown
}

func (e *HeldError) Error() string {
	if e.Since.IsZero() {
		return fmt.Sprintf("another patchnight run holds the lock %s", e.Path)
	}
	return fmt.Sprintf("another patchnight run holds the lock since %s (pid %d on %s)",
		e.Since.Local().Format("2006-01-02 15:04:05 MST"), e.PID, e.Host)
}

type owner struct {
	PID   int       `json:"pid"`
	Host  string    `json:"host"`
	Since time.Time `json:"since"`
}

// Try takes the lock in the state directory dir, or fails at once with an
// exit.Unavailable error wrapping a *HeldError that says since when and by whom it is
// held. Call the returned function to release it.
func Try(dir string) (unlock func(), err error) {
	fl, err := newLock(dir)
	if err != nil {
		return nil, err
	}
	ok, err := fl.TryLock()
	if err != nil {
		return nil, exit.Wrap(exit.Failed, err, "check the state directory", "lock %s", fl.Path())
	}
	if !ok {
		return nil, heldError(dir, fl.Path())
	}
	return held(dir, fl), nil
}

// Wait waits for the lock, trying every poll (default 2s), until ctx ends; then it fails
// like Try. Scheduled steps that start while another step runs wait their turn with it.
func Wait(ctx context.Context, dir string, poll time.Duration) (unlock func(), err error) {
	if poll <= 0 {
		poll = 2 * time.Second
	}
	fl, err := newLock(dir)
	if err != nil {
		return nil, err
	}
	ok, err := fl.TryLockContext(ctx, poll)
	if !ok {
		if err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
			return nil, exit.Wrap(exit.Failed, err, "check the state directory", "lock %s", fl.Path())
		}
		return nil, heldError(dir, fl.Path())
	}
	return held(dir, fl), nil
}

// EnsureDir creates the state directory owner-only (0700), or narrows an existing one
// (Unix; on Windows the directory keeps the ACL it inherits).
func EnsureDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return exit.Wrap(exit.NoPerm, err, "create it or choose another state_dir", "state directory %s", dir)
	}
	if runtime.GOOS == "windows" {
		return nil
	}
	st, err := os.Stat(dir)
	if err != nil {
		return exit.Wrap(exit.NoPerm, err, "", "state directory %s", dir)
	}
	if !st.IsDir() {
		return exit.Usagef("choose a directory for state_dir", "state directory %s is not a directory", dir)
	}
	if st.Mode().Perm()&0o077 != 0 {
		if err := os.Chmod(dir, 0o700); err != nil {
			return exit.Wrap(exit.NoPerm, err, "make it readable by its owner only (chmod 700)", "state directory %s is readable by others", dir)
		}
	}
	return nil
}

func newLock(dir string) (*flock.Flock, error) {
	if err := EnsureDir(dir); err != nil {
		return nil, err
	}
	return flock.New(filepath.Join(dir, File), flock.SetPermissions(0o600)), nil
}

func held(dir string, fl *flock.Flock) func() {
	host, _ := os.Hostname()
	b, _ := json.Marshal(owner{PID: os.Getpid(), Host: host, Since: time.Now().UTC()})
	ownerPath := filepath.Join(dir, OwnerFile)
	tmp := ownerPath + ".tmp"
	if os.WriteFile(tmp, b, 0o600) == nil {
		if os.Rename(tmp, ownerPath) != nil {
			os.Remove(tmp)
		}
	}
	return func() {
		os.Remove(ownerPath)
		fl.Unlock()
	}
}

func heldError(dir, path string) error {
	le := &HeldError{Path: path}
	if b, err := os.ReadFile(filepath.Join(dir, OwnerFile)); err == nil {
		var o owner
		if json.Unmarshal(b, &o) == nil {
			le.PID, le.Host, le.Since = o.PID, o.Host, o.Since
		}
	}
	return &exit.Error{Code: exit.Unavailable, Msg: "state directory " + dir, Hint: "wait for it to finish: steps run one at a time", Err: le}
}
