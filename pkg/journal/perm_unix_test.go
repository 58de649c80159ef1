//go:build !windows

package journal

import (
	"context"
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

func TestFilePermissions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "state")
	j := openTest(t, dir, Options{})
	run, st := beginStep(t, j, "scan-1630")
	if err := j.RecordSync(ctx, HostOutcome{Run: run.ID, Step: st.ID, Host: "PC1", Action: "scan", Outcome: OutcomeOK}); err != nil {
		t.Fatal(err)
	}
	if m := mode(t, dir); m != 0o700 {
		t.Errorf("state dir %o, want 700", m)
	}
	for _, f := range []string{FileName, FileName + "-wal", FileName + "-shm"} {
		if m := mode(t, filepath.Join(dir, f)); m != 0o600 {
			t.Errorf("%s %o, want 600", f, m)
		}
	}
	j.Close()

	// Widened by someone: fixed on the next open.
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{FileName, FileName + "-wal", FileName + "-shm"} {
		p := filepath.Join(dir, f)
		if _, err := os.Stat(p); err == nil {
			if err := os.Chmod(p, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	j2 := openTest(t, dir, Options{})
	if _, _, err := j2.BeginRun(ctx, RunSpec{Plan: "p", Month: "2027-01"}); err != nil {
		t.Fatal(err)
	}
	if m := mode(t, dir); m != 0o700 {
		t.Errorf("state dir after reopen %o, want 700", m)
	}
	for _, f := range []string{FileName, FileName + "-wal", FileName + "-shm"} {
		p := filepath.Join(dir, f)
		if _, err := os.Stat(p); err == nil && mode(t, p) != 0o600 {
			t.Errorf("%s after reopen %o, want 600", f, mode(t, p))
		}
	}
}
