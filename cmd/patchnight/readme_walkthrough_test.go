package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/patchnight/patchnight/pkg/exit"
)

// walkthroughStep is one command line of README.md's lab walkthrough.
type walkthroughStep struct {
	Line string   // as written in the README
	Args []string // the words after "patchnight"
	Exit int      // the exit code it documents (# exit N), else 0
}

// readmeWalkthrough reads the lab walkthrough out of README.md: the ```sh block that
// follows the "<!-- walkthrough:" marker, one patchnight command per line, a "# exit N"
// comment giving a command's documented exit code.
func readmeWalkthrough(t *testing.T) []walkthroughStep {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	i := strings.Index(readme, "<!-- walkthrough:")
	if i < 0 {
		t.Fatal("README.md has no <!-- walkthrough: marker")
	}
	m := regexp.MustCompile("(?s)-->\n```sh\n(.*?)```").FindStringSubmatchIndex(readme[i:])
	if m == nil {
		t.Fatal("no ```sh block right after README.md's walkthrough marker")
	}
	block := readme[i+m[2] : i+m[3]]
	exitRe := regexp.MustCompile(`^\s*exit (\d+)`)
	var steps []walkthroughStep
	for _, line := range strings.Split(block, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		cmd, comment, _ := strings.Cut(line, " #")
		words, err := shellWords(cmd)
		if err != nil || len(words) < 2 || words[0] != "patchnight" {
			t.Fatalf("README walkthrough line %q is not a patchnight command (%v)", line, err)
		}
		s := walkthroughStep{Line: line, Args: words[1:]}
		if m := exitRe.FindStringSubmatch(comment); m != nil {
			s.Exit, _ = strconv.Atoi(m[1])
		}
		steps = append(steps, s)
	}
	return steps
}

// inDir takes the relative paths after --db, --config and --out in dir, as a shell
// started in dir would (the walkthrough runs in a folder of its own).
func inDir(dir string, args []string) []string {
	out := append([]string(nil), args...)
	for i := 1; i < len(out); i++ {
		switch out[i-1] {
		case "--db", "--config", "--out":
			if !filepath.IsAbs(out[i]) {
				out[i] = filepath.Join(dir, out[i])
			}
		}
	}
	return out
}

// TestReadmeWalkthrough runs README.md's lab walkthrough command by command, as the
// marker comment above it says: against lab serve over HTTPS and over plain HTTP
// (lab serve --http), each exit code as documented. lab serve runs in-process (Main, as
// the binary runs it): the walkthrough then runs under go test -race with the race
// detector on the whole CLI, needs no build step, and the server's life is the test's.
func TestReadmeWalkthrough(t *testing.T) {
	t.Parallel()
	steps := readmeWalkthrough(t)
	// The walkthrough must keep doing what it is there for.
	var all []string
	for _, s := range steps {
		all = append(all, strings.Join(s.Args, " "))
	}
	for _, want := range []string{"lab init", "lab serve", "client scan", "wol --collection", "--confirm probe", "plan export-tasks"} {
		if !strings.Contains(strings.Join(all, "\n"), want) {
			t.Errorf("the README walkthrough no longer runs %q", want)
		}
	}
	for _, mode := range []struct {
		name  string
		extra []string // added to the lab serve line
	}{
		{"https", nil},
		{"http", []string{"--http"}},
	} {
		t.Run(mode.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			served := false
			for _, s := range steps {
				args := inDir(dir, s.Args)
				if len(args) >= 2 && args[0] == "lab" && args[1] == "serve" {
					if served {
						t.Fatalf("the walkthrough starts lab serve twice")
					}
					db, flags := "", append([]string(nil), mode.extra...)
					for i := 2; i < len(args); i++ { // serveLab adds lab serve --db DB
						if args[i] == "--db" && i+1 < len(args) {
							db = args[i+1]
							i++
							continue
						}
						flags = append(flags, args[i])
					}
					srv := serveLab(t, db, flags...)
					served = true
					conf, err := os.ReadFile(srv.Config)
					if err != nil || srv.Config != filepath.Join(dir, "patchnight-lab.yaml") {
						t.Fatalf("lab serve wrote %s (%v), the walkthrough uses patchnight-lab.yaml beside lab.db", srv.Config, err)
					}
					if want := fmt.Sprintf("https: %v", mode.extra == nil); !strings.Contains(string(conf), want) {
						t.Fatalf("lab serve's profile lacks %q:\n%s", want, conf)
					}
					continue
				}
				start := time.Now()
				out, stderr, code := run(t, nil, args...)
				t.Logf("%s: exit %d in %s", s.Line, code, time.Since(start).Round(time.Millisecond))
				if code != s.Exit {
					t.Errorf("README walkthrough (%s): %s\nexit %d, the README says %d\nstderr: %s\nstdout: %.3000s", mode.name, s.Line, code, s.Exit, stderr, out)
				}
				if code == exit.Usage && strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
					t.Errorf("%s: a usage error takes one line: %q", s.Line, stderr)
				}
			}
			if !served {
				t.Fatal("the walkthrough never starts lab serve")
			}
		})
	}
}

// TestExportTasksConfigPath: the tasks plan export-tasks writes name a configuration file
// on the site server. A --config that is not a full Windows path (the lab's, a
// workstation's) is refused with 64 and the remedy --task-config; --task-config names the
// file the tasks pass to patchnight run.
func TestExportTasksConfigPath(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "lab.yaml")
	if err := os.WriteFile(cfg, []byte("default_profile: lab\nprofiles:\n  lab:\n    site_code: LAB\n    time_zone: UTC\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	const server = `C:\ProgramData\patchnight\config.yaml`
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string // in stderr (refused) or in every task's arguments
	}{
		{"lab --config alone", nil, exit.Usage, "--task-config"},
		{"--task-config", []string{"--task-config", server}, 0, "--config " + server},
		{"relative --task-config", []string{"--task-config", "config.yaml"}, exit.Usage, "not a full Windows path"},
	} {
		args := append([]string{"--config", cfg, "plan", "export-tasks", "--check", "--month", "2026-12", "-o", "json"}, tc.args...)
		out, stderr, code := run(t, nil, args...)
		if code != tc.code {
			t.Errorf("%s: exit %d, want %d: %s", tc.name, code, tc.code, stderr)
			continue
		}
		if code != 0 {
			if !strings.Contains(stderr, tc.want) {
				t.Errorf("%s: %q lacks %q", tc.name, stderr, tc.want)
			}
			continue
		}
		var ts struct {
			Tasks []struct {
				Arguments string `json:"arguments"`
			} `json:"tasks"`
		}
		if err := json.Unmarshal([]byte(out), &ts); err != nil || len(ts.Tasks) == 0 {
			t.Fatalf("%s: %v\n%s", tc.name, err, out)
		}
		for _, task := range ts.Tasks {
			if !strings.Contains(task.Arguments, tc.want) {
				t.Errorf("%s: task arguments %q lack %q", tc.name, task.Arguments, tc.want)
			}
		}
	}
}
