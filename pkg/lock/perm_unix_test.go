//go:build !windows

package lock

import (
	"os"
	"path/filepath"
	"testing"
)

func mode(t *testing.T, p string) os.FileMode {
	t.Helper()
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return st.Mode().Perm()
}

// The lock creates the state directory owner-only, its files are 0600, and a directory
// someone widened is narrowed again the next time the lock is taken.
func TestFilePermissions(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "state")
	unlock, err := Try(dir)
	if err != nil {
		t.Fatal(err)
	}
	if m := mode(t, dir); m != 0o700 {
		t.Errorf("state dir %o, want 700", m)
	}
	for _, f := range []string{File, OwnerFile} {
		if m := mode(t, filepath.Join(dir, f)); m != 0o600 {
			t.Errorf("%s %o, want 600", f, m)
		}
	}
	unlock()

	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	unlock, err = Try(dir)
	if err != nil {
		t.Fatal(err)
	}
	unlock()
	if m := mode(t, dir); m != 0o700 {
		t.Errorf("state dir after a widening %o, want 700", m)
	}
}

// A state_dir that is a file is refused, and the lock is not taken.
func TestEnsureDirRefusesAFile(t *testing.T) {
	t.Parallel()
	p := filepath.Join(t.TempDir(), "state")
	if err := os.WriteFile(p, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := EnsureDir(p); err == nil {
		t.Fatal("EnsureDir on a file succeeded")
	}
	if unlock, err := Try(p); err == nil {
		unlock()
		t.Fatal("Try in a file succeeded")
	}
}
