package journal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/gofrs/flock"

	"github.com/patchnight/patchnight/pkg/exit"
)

// Lock files in the state directory. The lock is an OS file lock (flock on Unix, LockFileEx
// on Windows), released by the OS when the process dies, so a killed runner never leaves a
// stale lock. Who holds it is written to a separate file, because a locked file cannot be
// read on Windows.
const (
	LockFile  = "run.lock"
	OwnerFile = "run.lock.json"
)

// LockedError says the lock is held by another run.
type LockedError struct {
	Path  string    // the lock file
	PID   int       // holder's process ID, 0 if unknown
	Host  string    // holder's computer
	Since time.Time // when it took the lock; zero if unknown
}

func (e *LockedError) Error() string {
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

// Lock takes the runner's single-instance lock in the state directory dir, or fails at
// once with an exit.Unavailable error wrapping a *LockedError that says since when and by
// whom it is held. Call the returned function to release it.
func Lock(dir string) (unlock func(), err error) {
	fl, err := newLock(dir)
	if err != nil {
		return nil, err
	}
	ok, err := fl.TryLock()
	if err != nil {
		return nil, exit.Wrap(exit.Failed, err, "check the state directory", "lock %s", fl.Path())
	}
	if !ok {
		return nil, lockedError(dir, fl.Path())
	}
	return held(dir, fl), nil
}

// LockContext waits for the lock, trying every poll (default 2s), until ctx ends; then it
// fails like Lock. Scheduled steps that start while another step runs wait their turn with it.
func LockContext(ctx context.Context, dir string, poll time.Duration) (unlock func(), err error) {
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
		return nil, lockedError(dir, fl.Path())
	}
	return held(dir, fl), nil
}

func newLock(dir string) (*flock.Flock, error) {
	if err := ensureDir(dir); err != nil {
		return nil, err
	}
	return flock.New(filepath.Join(dir, LockFile), flock.SetPermissions(0o600)), nil
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

func lockedError(dir, path string) error {
	le := &LockedError{Path: path}
	if b, err := os.ReadFile(filepath.Join(dir, OwnerFile)); err == nil {
		var o owner
		if json.Unmarshal(b, &o) == nil {
			le.PID, le.Host, le.Since = o.PID, o.Host, o.Since
		}
	}
	return &exit.Error{Code: exit.Unavailable, Msg: "state directory " + dir, Hint: "wait for it to finish: steps run one at a time", Err: le}
}
