// Package labtest builds the lab database that a package's tests share: one per test
// binary, built in TestMain before the tests run and removed after them. It is used only
// by tests.
package labtest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/patchnight/patchnight/pkg/lab"
)

// Main builds a lab of hosts machines from seed, stores its path in *path, runs the tests
// and exits with their code. The lab has the permanent faults only (PermanentFaults): the
// packages that share it test product code against the lab's state at a moment, which
// machines leaving the network on the simulated clock would change under them; the night
// fault model (docs/lab.md) is tested by package lab, the runner and lab rehearse. Use it
// as the body of TestMain:
//
//	func TestMain(m *testing.M) { labtest.Main(m, &labPath, 300, 7) }
func Main(m *testing.M, path *string, hosts int, seed int64) {
	dir, err := os.MkdirTemp("", "patchnight-test-lab-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	*path = filepath.Join(dir, "lab.db")
	opt := lab.DefaultOptions()
	faults := PermanentFaults()
	opt.Hosts, opt.Seed, opt.Faults = hosts, seed, &faults
	if _, err := lab.Generate(context.Background(), *path, opt); err != nil {
		fmt.Fprintln(os.Stderr, "build the test lab:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// PermanentFaults is the lab's fault mix before the night fault model: 3% of the clients
// fail every install; nothing transient.
func PermanentFaults() lab.FaultRates { return lab.FaultRates{InstallFault: 0.03} }

// Copy copies the lab at path to a new file in the test's temporary directory and returns
// the copy's path: a private lab for a test that writes.
func Copy(t testing.TB, path string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "lab.db")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return dst
}
