package main

import (
	"net"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/patchnight/patchnight/pkg/exit"
)

// contractCase is one command line that must fail with a code and a message that names
// something (want), in the contract's shape.
type contractCase struct {
	name string
	cfg  string // configuration file ("" = the lab profile)
	args []string
	code int
	want string
}

// commandTree returns every command of the CLI as built for a run (with cobra's help and
// completion commands), root first.
func commandTree(t *testing.T) []*cobra.Command {
	t.Helper()
	root := newRootCmd(&App{IO: IO{In: strings.NewReader("")}, Getenv: func(string) string { return "" }, Now: time.Now})
	var all []*cobra.Command
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		all = append(all, c)
		for _, s := range c.Commands() {
			walk(s)
		}
	}
	walk(root)
	if len(all) < 40 {
		t.Fatalf("the command tree has %d commands; the walk lost some", len(all))
	}
	return all
}

// words is the command line that names c ("client", "scan"); nil for the root.
func words(c *cobra.Command) []string {
	if !c.HasParent() {
		return nil
	}
	return strings.Fields(subPath(c))
}

// placeholders is the fewest arguments c accepts ("x" each), and whether there is such a
// number: with them a command line gets past the argument check to the next one.
func placeholders(c *cobra.Command) ([]string, bool) {
	var args []string
	for range 4 {
		if c.Args == nil || c.Args(c, args) == nil {
			return args, true
		}
		args = append(args, "x")
	}
	return nil, false
}

// commandLineCases are the failures of the command line itself, for every command of the
// tree: a command added later is covered without touching this test.
func commandLineCases(t *testing.T) []contractCase {
	var cases []contractCase
	add := func(class string, c *cobra.Command, args []string, want string) {
		name := strings.Join(append([]string{class}, words(c)...), " ")
		cases = append(cases, contractCase{name: name, args: args, code: exit.Usage, want: want})
	}
	for _, c := range commandTree(t) {
		w := words(c)
		at := func(extra ...string) []string { return append(slices.Clone(w), extra...) }
		add("unknown flag", c, at("--no-such-flag"), "--no-such-flag")
		add("unknown shorthand", c, at("-Z"), "-Z")
		if len(w) > 0 {
			// Before the command's words: cobra would take the next word for its value
			// and blame the word after.
			add("unknown flag before", c, append([]string{"--no-such-flag"}, w...), "--no-such-flag")
		}
		if c.HasSubCommands() {
			add("unknown subcommand", c, at("frobnicate"), "frobnicate")
			continue
		}
		if !c.Runnable() {
			continue
		}
		if c.Args != nil && c.Args(c, nil) != nil {
			add("missing argument", c, w, "needs")
		}
		if c.Args != nil && c.Args(c, []string{"x1", "x2", "x3", "x4", "x5"}) != nil {
			add("extra argument", c, at("x1", "x2", "x3", "x4", "x5"), "")
		}
		ph, ok := placeholders(c)
		if !ok {
			t.Errorf("%s accepts no number of arguments up to 3", c.CommandPath())
			continue
		}
		add("bad output format", c, at(append(ph, "-o", "yaml")...), "yaml")
		if f := c.Flags().Lookup("month"); f != nil {
			add("bad month", c, at(append(ph, "--month", "2026-13")...), "2026-13")
		}
		for _, fl := range []string{"concurrency", "hosts", "seed"} {
			if f := c.Flags().Lookup(fl); f != nil && strings.HasPrefix(f.Value.Type(), "int") {
				add("not a number --"+fl, c, at(append(ph, "--"+fl, "many")...), "--"+fl)
			}
		}
	}
	return cases
}

// remedyShape is one line `patchnight: <what> (<what to do>)`.
var remedyShape = regexp.MustCompile(`^patchnight: [^\n]+ \(([^\n]+)\)\n$`)

// libraryText is text of cobra, pflag, the runtime or the socket library that has no
// place in a message to an admin.
var libraryText = []string{"arg(s)", "Did you mean this", "Usage:", "for \"patchnight", "invalid argument",
	"strconv.", "goroutine ", "panic:", "Unknown help topic", "dial tcp", "stat /", "no such file or directory",
	"bad flag syntax", "flag needs an argument", "unknown shorthand flag"}

// checkShape fails the test when stderr is not the contract's one line with one remedy.
func checkShape(t *testing.T, stdout, stderr string) {
	t.Helper()
	m := remedyShape.FindStringSubmatch(stderr)
	if m == nil {
		t.Errorf("stderr is not one line `patchnight: <what> (<what to do>)`: %q", stderr)
		return
	}
	if strings.Contains(stderr, ") (") {
		t.Errorf("stderr gives a remedy twice: %q", stderr)
	}
	if remedy := m[1]; strings.Count(stderr, remedy) > 1 {
		t.Errorf("stderr repeats its remedy %q: %q", remedy, stderr)
	}
	for _, s := range libraryText {
		if strings.Contains(stderr, s) {
			t.Errorf("stderr has library text %q: %q", s, stderr)
		}
	}
	if stdout != "" {
		t.Errorf("a failed command printed on stdout: %.300q", stdout)
	}
}

// closedAddr is a loopback address where nothing listens.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestErrorContract runs every command of the tree against each failure class it can
// meet and checks the exit code and the message: usage and input 64, an unreachable
// dependency (SQL Server, WinRM on a host, the SMS Provider) 69, refused credentials 77;
// one line `patchnight: <what> (<what to do>)` on stderr, never library text, never a
// remedy twice, nothing on stdout. The command-line classes (unknown subcommand, unknown
// flag, missing or extra argument, bad output format, bad month, a flag value that is no
// number) are derived from the tree; the dependency classes (lab database missing, SQL
// Server unreachable, WinRM port refused, wrong password) from the commands that meet
// them, against one lab.
func TestErrorContract(t *testing.T) {
	t.Parallel()
	e := newLabEnv(t, labSpec{hosts: 60, seed: 14, winrm: []string{"operation_timeout: 60s", "connect_timeout: 5s", "retries: 0"}})
	host := e.rows(`SELECT Name FROM lab_host WHERE IsClient = 1 AND Power = 'on' ORDER BY ResourceID LIMIT 1`)[0][0]

	// Broken environments: a lab database that is not there, a SQL Server that does not
	// answer, a WinRM port that refuses (the lab profile pointed at a closed port), a
	// wrong password.
	missingDB := "sqlite:" + e.dir + "/missing/lab.db"
	sqlDown := "sqlserver://" + closedAddr(t) + "?database=CM_LAB&dial+timeout=5&connection+timeout=10"
	dead := closedAddr(t)
	good, err := os.ReadFile(e.cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	_, deadPort, _ := net.SplitHostPort(dead)
	_, labPort, _ := net.SplitHostPort(e.site.Addr())
	refused := strings.ReplaceAll(string(good), e.site.Addr(), dead)
	refused = strings.ReplaceAll(refused, "port: "+labPort, "port: "+deadPort)
	refusedCfg := e.writeFile("refused.yaml", refused)
	wrong := randomSecret(t)
	e.addSecret(wrong)
	wrongCfg := e.config("wrong-password.yaml", labConfig{credFile: e.writeFile("wrong.credential", wrong+"\n")})

	cases := commandLineCases(t)
	// The commands that read the site database, with each database failure.
	for _, args := range [][]string{
		{"report", "scan"},
		{"report", "compliance"},
		{"collections", "plan"},
		{"client", "scan", "--collection", "SMS00001"},
		{"wol", "--collection", "SMS00001", "--dry-run"},
	} {
		name := strings.Join(args, " ")
		cases = append(cases,
			contractCase{name: "lab database missing " + name, args: append([]string{"--sql", missingDB}, args...), code: exit.Usage, want: "lab init"},
			contractCase{name: "SQL unreachable " + name, args: append([]string{"--sql", sqlDown}, args...), code: exit.Unavailable, want: "SQL Server"},
		)
	}
	// The commands that reach a host or the SMS Provider over WinRM, with each WinRM failure.
	for _, args := range [][]string{
		{"client", "scan", "--host", host},
		{"client", "logged-on", "--host", host},
		{"client", "policy", "--via", "site", "--collection", "SMS00001"},
		{"client", "operations", "1"},
	} {
		name := strings.Join(args, " ")
		cases = append(cases,
			contractCase{name: "WinRM port refused " + name, cfg: refusedCfg, args: args, code: exit.Unavailable, want: "refused"},
			contractCase{name: "wrong password " + name, cfg: wrongCfg, args: args, code: exit.NoPerm, want: "authentication failed"},
		)
	}

	// Words that name nothing, where cobra printed help and exited 0.
	cases = append(cases,
		contractCase{name: "unknown help topic", args: []string{"help", "frobnicate"}, code: exit.Usage, want: "frobnicate"},
		contractCase{name: "unknown help subtopic", args: []string{"help", "client", "frobnicate"}, code: exit.Usage, want: "frobnicate"},
		contractCase{name: "unknown shell", args: []string{"completion", "nosuchshell"}, code: exit.Usage, want: "nosuchshell"},
	)
	// lab serve on a port another process holds: the port is the caller's choice, 64.
	held, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { held.Close() })
	cases = append(cases,
		contractCase{name: "lab serve port in use", args: []string{"lab", "serve", "--db", e.path, "--addr", held.Addr().String()}, code: exit.Usage, want: "in use"},
		contractCase{name: "lab serve database missing", args: []string{"lab", "serve", "--db", e.dir + "/missing.db"}, code: exit.Usage, want: "lab init"},
	)

	seen := map[string]bool{}
	for _, tc := range cases {
		if seen[tc.name] {
			t.Fatalf("two cases named %q", tc.name)
		}
		seen[tc.name] = true
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			if cfg == "" {
				cfg = e.cfgPath
			}
			out, stderr, code := e.runConfig(cfg, tc.args...)
			if code != tc.code {
				t.Errorf("patchnight %s: exit %d, want %d; stderr %q", strings.Join(tc.args, " "), code, tc.code, stderr)
			}
			where := stderr
			if strings.Contains(stderr, " hosts failed") {
				// A run over hosts: the table on stdout says for each host why, the
				// last line on stderr sums it up.
				where, out = out, ""
			}
			checkShape(t, out, lastLine(stderr))
			if !strings.Contains(where, tc.want) {
				t.Errorf("output %q does not name %q", where, tc.want)
			}
		})
	}
}

// lastLine is the last line of s, with its newline: the error line of a command that may
// log a warning before it.
func lastLine(s string) string {
	lines := strings.SplitAfter(s, "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.TrimSpace(lines[i]) != "" {
			return lines[i]
		}
	}
	return s
}

// TestBareGroupPrintsHelp: a group command called without a subcommand prints its help
// and exits 0, like --help (the decision: it asks for nothing and does nothing); only an
// unknown word after it is an error.
func TestBareGroupPrintsHelp(t *testing.T) {
	t.Parallel()
	for _, c := range commandTree(t) {
		if !c.HasSubCommands() || !c.HasParent() {
			continue
		}
		t.Run(subPath(c), func(t *testing.T) {
			t.Parallel()
			out, stderr, code := run(t, nil, words(c)...)
			if code != 0 || !strings.Contains(out, "Available Commands") || stderr != "" {
				t.Errorf("exit %d, stderr %q, stdout %.200q", code, stderr, out)
			}
		})
	}
}
