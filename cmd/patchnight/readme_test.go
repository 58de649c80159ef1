package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestReadmeStaysTrue checks what README.md tells a user: the configuration example
// loads, the two quick-start commands are the demo and the test command CI runs, and the
// exit codes table matches the code.
func TestReadmeStaysTrue(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	m := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindStringSubmatch(readme)
	if m == nil {
		t.Fatal("README has no yaml configuration example")
	}
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(m[1]), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, stderr, code := run(t, nil, "config", "show", "--config", path); code != 0 {
		t.Errorf("the README's configuration example does not load: %s", stderr)
	}
	for _, want := range []string{"go run ./cmd/patchnight demo", "go test -race -timeout 20m ./..."} {
		if !strings.Contains(readme, "    "+want+"\n") {
			t.Errorf("README's quick start lacks %q", want)
		}
	}
	ci, err := os.ReadFile("../../.ci/run")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(ci), "go test -race -timeout 20m ./...") {
		t.Error(".ci/run does not run the README's test command")
	}
	for _, row := range []string{"| 0 |", "| 1 |", "| 2 |", "| 64 |", "| 69 |", "| 77 |"} {
		if !strings.Contains(readme, row) {
			t.Errorf("README's exit codes lack %s", row)
		}
	}
}
