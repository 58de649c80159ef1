package report_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/patchnight/patchnight/pkg/lab"
)

// labPath is one lab built for the whole test binary (building is the slow part); the
// tests open it read-only.
var labPath string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "patchnight-report-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	labPath = filepath.Join(dir, "lab.db")
	opt := lab.DefaultOptions()
	opt.Hosts, opt.Seed = 600, 11
	if _, err := lab.Generate(context.Background(), labPath, opt); err != nil {
		fmt.Fprintln(os.Stderr, "build lab:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
