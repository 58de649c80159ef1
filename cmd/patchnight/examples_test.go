package main

import (
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/patchnight/patchnight/pkg/output"
)

// TestExamples walks the whole command tree: every runnable command (one that does
// something of its own, not a group that lists its commands) has an Examples section,
// and every line of it is a patchnight command line whose command is the one it
// documents, whose flags parse, whose arguments are accepted and whose -o format the
// command gives; so an example cannot rot when a flag or a command changes. Every entry
// of examples() names a command that exists.
func TestExamples(t *testing.T) {
	t.Parallel()
	root := newRootCmd(&App{IO: IO{In: strings.NewReader(""), Out: io.Discard, Err: io.Discard}, Getenv: func(string) string { return "" }})
	seen := map[string]bool{}
	var cmds []*cobra.Command
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		seen[subPath(c)] = true
		if c.HasParent() && !c.HasSubCommands() && c.Runnable() {
			cmds = append(cmds, c)
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	if len(cmds) < 40 {
		t.Fatalf("only %d runnable commands found", len(cmds))
	}
	for name := range examples() {
		if !seen[name] {
			t.Errorf("examples() has an entry for %q, which is not a command", name)
		}
	}
	for _, c := range cmds {
		t.Run(subPath(c), func(t *testing.T) {
			t.Parallel()
			lines := exampleLines(c.Example)
			if len(lines) == 0 {
				t.Fatalf("%q has no example: add one to examples() in cmd/patchnight/examples.go", c.CommandPath())
			}
			for _, l := range lines {
				if err := checkExample(subPath(c), l); err != nil {
					t.Errorf("example of %s: %s: %v", subPath(c), l, err)
				}
			}
		})
	}
}

// exampleLines returns the command lines of an Examples section (comments and blank
// lines left out).
func exampleLines(example string) []string {
	var out []string
	for _, l := range strings.Split(example, "\n") {
		l = strings.TrimSpace(l)
		if l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return out
}

// checkExample parses one example line on a fresh command tree as Main would run it,
// without running it: the line must be patchnight's, name the command want, and its
// flags, arguments and output format must pass every check made before a command runs.
func checkExample(want, line string) error {
	words, err := shellWords(line)
	if err != nil {
		return err
	}
	if len(words) == 0 || words[0] != "patchnight" {
		return fmt.Errorf("not a patchnight command line")
	}
	args := words[1:]
	app := &App{IO: IO{In: strings.NewReader(""), Out: io.Discard, Err: io.Discard}, Getenv: func(string) string { return "" }, args: args}
	root := newRootCmd(app)
	if err := checkFlagsBeforeCommand(root, args); err != nil {
		return err
	}
	c, rest, err := root.Find(args)
	if err != nil {
		return err
	}
	if subPath(c) != want {
		return fmt.Errorf("runs %q", subPath(c))
	}
	if err := c.ParseFlags(rest); err != nil {
		return err
	}
	if err := c.ValidateArgs(c.Flags().Args()); err != nil {
		return err
	}
	if err := c.ValidateRequiredFlags(); err != nil {
		return err
	}
	if err := c.ValidateFlagGroups(); err != nil {
		return err
	}
	f, err := output.ParseFormat(app.outputFlag)
	if err != nil {
		return err
	}
	return checkFormat(c, f)
}

// shellWords splits a command line as a POSIX shell would for the forms the examples and
// README use: words separated by blanks, '...' and "..." quoting, and the end of the
// command at an unquoted >, | or ; (a redirection or the next command).
func shellWords(line string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	var quote rune
	for _, r := range line {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == ' ' || r == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case (r == '>' || r == '|' || r == ';') && !inWord:
			return words, nil
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unterminated quote")
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// exampleNotRun lists the example lines TestExamplesRun leaves out, by a part of the
// line, and why: they wait for minutes or forever, need a file the lab does not have, a
// night in the journal, another day, or are lab serve and demo themselves (run by other
// tests). Every other example that uses the lab profile runs.
func exampleNotRun() map[string]string {
	return map[string]string{
		"--wait 90m":                "follows installs for up to 90 minutes",
		"--confirm probe --wait 2m": "waits two minutes",
		"--interval 10m":            "runs until interrupted",
		"night --month":             "runs until the night ends",
		"run scan-1630":             "what it does depends on today's date",
		"run retry-restart":         "what it does depends on today's date",
		"night.yaml":                "a plan file of the admin's",
		"report morning":            "needs a night in the journal (TestDemoKeepCommandWorks)",
		"report follow-up":          "needs a night in the journal (TestReportFollowUpCmd)",
		"history":                   "needs a night in the journal (TestDemoKeepCommandWorks)",
		"client operations":         "needs an operation ID from --via site",
	}
}

// TestExamplesRun runs, against a lab served as the examples say (lab init, lab serve,
// patchnight-lab.yaml), every example that uses the lab profile, except those
// exampleNotRun lists: each exits 0, or 2 where the lab has machines that are off.
func TestExamplesRun(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db := filepath.Join(dir, "lab.db")
	if _, stderr, code := run(t, nil, "lab", "init", "--db", db, "--hosts", "300", "--seed", "7"); code != 0 { // the lab the examples are written for
		t.Fatalf("lab init: %s", stderr)
	}
	serveLab(t, db)
	ex := examples()
	names := make([]string, 0, len(ex))
	for n := range ex {
		names = append(names, n)
	}
	slices.Sort(names)
	ran := 0
	for _, n := range names {
	lines:
		for _, l := range exampleLines("  " + ex[n]) {
			if !strings.Contains(l, "--config patchnight-lab.yaml ") {
				continue
			}
			for part := range exampleNotRun() {
				if strings.Contains(l, part) {
					continue lines
				}
			}
			words, err := shellWords(l)
			if err != nil {
				t.Fatal(err)
			}
			out, stderr, code := run(t, nil, inDir(dir, words[1:])...)
			ran++
			if code != 0 && code != 2 {
				t.Errorf("example of %s: %s: exit %d\n%s%.2000s", n, l, code, stderr, out)
			}
		}
	}
	t.Logf("%d examples ran", ran)
	if ran < 30 {
		t.Errorf("only %d examples ran", ran)
	}
}
