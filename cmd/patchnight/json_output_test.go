package main

import (
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/patchnight/patchnight/pkg/exit"
)

// jsonRun is how the output test runs one command: the arguments that make it act on the
// lab (after its words), or refused: the command cannot give JSON, and must say so with 64
// before it does anything.
type jsonRun struct {
	args    func(t *testing.T, e *labEnv) []string
	refused string // why the command gives no JSON ("" = it must)
	bare    bool   // run without the lab profile (whose path is no Windows path for the tasks)
}

// jsonRuns are the commands that need more than the fewest arguments their argument check
// accepts to act on the lab, and the commands that refuse -o json. A command not listed is
// run with placeholder arguments ("x"): a command added later is covered without touching
// the test, and fails it until it prints JSON or is listed here with what it needs.
func jsonRuns(host, other, group string) map[string]jsonRun {
	fixed := func(a ...string) func(*testing.T, *labEnv) []string {
		return func(*testing.T, *labEnv) []string { return a }
	}
	onHost := fixed("--host", host)
	return map[string]jsonRun{
		"client evaluate":       {args: onHost},
		"client install":        {args: fixed("--host", host, "--yes")}, // no terminal: --yes is the consent
		"client logged-on":      {args: onHost},
		"client policy":         {args: onHost},
		"client reboot-pending": {args: onHost},
		"client restart":        {args: fixed("--host", other, "--yes")}, // another host: this one restarts
		"client scan":           {args: onHost},
		"client run-schedule":   {args: fixed("021", "--host", host)},
		"client operations": {args: func(t *testing.T, e *labEnv) []string {
			// An operation started through the site, in JSON too.
			var op struct {
				OperationID uint32 `json:"operation_id"`
			}
			out, stderr, code := e.run("client", "policy", "--via", "site", "--collection", "SMS00001", "-o", "json")
			if err := json.Unmarshal([]byte(out), &op); code != 0 || err != nil || op.OperationID == 0 {
				t.Fatalf("client policy --via site -o json: exit %d, %v, no operation_id in %q; stderr %q", code, err, out, stderr)
			}
			return []string{jsonNumber(op.OperationID)}
		}},
		"collections apply":   {args: fixed("--group", group, "--month", "2026-12", "--wait", "0", "--yes")},
		"collections export":  {args: fixed("--group", group, "--month", "2026-12")},
		"collections plan":    {args: fixed("--group", group, "--month", "2026-12")},
		"collections preview": {args: fixed("--group", group, "--month", "2026-12")},
		"collections prune":   {args: fixed("--month", "2026-12", "--dry-run")},
		"collections members": {args: fixed("SMS00001")},
		"docs":                {args: func(t *testing.T, e *labEnv) []string { return []string{"--out", filepath.Join(e.dir, "docs")} }},
		"lab init": {args: func(t *testing.T, e *labEnv) []string {
			return []string{"--db", filepath.Join(e.dir, "init.db"), "--hosts", "5"}
		}},
		"lab rehearse":           {args: fixed("--plan", "built-in", "--hosts", "8", "--seeds", "1", "--concurrency", "4")}, // its own temporary lab
		"notify missing":         {args: fixed("--group", group, "--dry-run")},
		"notify watch-unscanned": {args: fixed("--once", "--dry-run")},
		"plan export-tasks":      {bare: true, args: func(t *testing.T, e *labEnv) []string { return []string{"--out", filepath.Join(e.dir, "tasks")} }},
		"report hosts":           {args: fixed("--host", host)},
		"plan validate":          {args: fixed(filepath.Join("..", "..", "pkg", "night", "default-plan.yaml"))},
		"run":                    {args: fixed("check-deployments")},
		"wol":                    {args: fixed("--collection", "SMS00001", "--dry-run")},
		"config init":            {refused: "the example configuration is a commented YAML file"},
		"help":                   {refused: "help text"},
		"completion bash":        {refused: "a shell script"},
		"completion fish":        {refused: "a shell script"},
		"completion powershell":  {refused: "a shell script"},
		"completion zsh":         {refused: "a shell script"},
		"demo":                   {refused: "a narrated night, printed as it runs"},
		"lab serve":              {refused: "a server that runs until interrupted: its lines are a log"},
		"night":                  {refused: "hours of step lines as the steps run"},
	}
}

func jsonNumber(n uint32) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// snakeKey is a stable JSON key: lower case words joined by underscores.
var snakeKey = regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)

// checkKeys fails the test for each object key in v that is not snake_case.
func checkKeys(t *testing.T, path string, v any) {
	t.Helper()
	switch x := v.(type) {
	case map[string]any:
		for k, c := range x {
			if !snakeKey.MatchString(k) {
				t.Errorf("key %q at %s is not snake_case", k, path)
			}
			checkKeys(t, path+"."+k, c)
		}
	case []any:
		for _, c := range x {
			checkKeys(t, path+"[]", c)
		}
	}
}

// oneJSONDocument decodes s as exactly one JSON document.
func oneJSONDocument(s string) (any, error) {
	dec := json.NewDecoder(strings.NewReader(s))
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	var extra any
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, errors.New("more than one JSON document")
	}
	return v, nil
}

// TestJSONOutput walks the command tree and runs every command that prints with -o json
// against one lab: stdout must be exactly one JSON document whose object keys are all
// snake_case, or the command refuses the format with 64 and the contract's one line,
// having printed nothing. Which commands refuse is a decision kept in jsonRuns, with why.
func TestJSONOutput(t *testing.T) {
	t.Parallel()
	e := newLabEnv(t, labSpec{hosts: 40, seed: 14})
	on := e.rows(`SELECT Name FROM lab_host WHERE IsClient = 1 AND Power = 'on' ORDER BY ResourceID LIMIT 2`)
	host, other := on[0][0], on[1][0]
	group := e.rows(`SELECT Title FROM lab_update WHERE CIType_ID = 9`)[0][0]
	runs := jsonRuns(host, other, group)
	// The morning report reads the journal: a step run first gives it one.
	if _, stderr, code := e.run("run", "check-deployments"); code != 0 {
		t.Fatalf("run check-deployments: exit %d: %s", code, stderr)
	}

	seen := map[string]bool{}
	for _, c := range commandTree(t) {
		if !c.Runnable() || c.HasSubCommands() {
			continue // a group prints its help, which -o does not apply to (TestBareGroupPrintsHelp)
		}
		name := subPath(c)
		seen[name] = true
		t.Run(name, func(t *testing.T) {
			r, listed := runs[name]
			var args []string
			switch {
			case r.args != nil:
				args = r.args(t, e)
			case r.refused == "":
				ph, ok := placeholders(c)
				if !ok {
					t.Fatalf("%s takes no number of arguments up to 3: list it in jsonRuns", name)
				}
				args = ph
			}
			line := append(append(words(c), args...), "-o", "json")
			out, stderr, code := e.run(line...)
			if r.bare {
				out, stderr, code = run(t, nil, line...)
			}
			if r.refused != "" {
				if code != exit.Usage || !strings.Contains(stderr, "cannot write json") {
					t.Errorf("patchnight %s: exit %d, stderr %q; want 64 and \"cannot write json\" (%s)", strings.Join(line, " "), code, stderr, r.refused)
				}
				checkShape(t, out, stderr)
				return
			}
			if code != exit.OK && out == "" {
				hint := ""
				if !listed {
					hint = " (list the arguments it needs in jsonRuns)"
				}
				t.Fatalf("patchnight %s: exit %d%s\nstderr: %s\nstdout: %.500s", strings.Join(line, " "), code, hint, stderr, out)
			}
			v, err := oneJSONDocument(out)
			if err != nil {
				t.Fatalf("patchnight %s: stdout is not one JSON document: %v\n%.1000s", strings.Join(line, " "), err, out)
			}
			checkKeys(t, "$", v)
		})
	}
	for name := range runs {
		if !seen[name] {
			t.Errorf("jsonRuns lists %q, which is not a command of the tree", name)
		}
	}
}

// TestFormatRefusedBeforeActing: a command that cannot give a format says so with 64
// before it does anything (lab init writes no database, docs no pages), for each format
// it cannot give; commands marked with onlyFormats are found in the tree.
func TestFormatRefusedBeforeActing(t *testing.T) {
	t.Parallel()
	marked := 0
	for _, c := range commandTree(t) {
		if _, ok := c.Annotations[formatsAnnotation]; ok {
			marked++
		}
	}
	if marked < 10 {
		t.Fatalf("%d commands declare their formats; want help, completion, config init and show, demo, docs, lab init and serve, night, plan validate, run", marked)
	}
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		file string // must not exist afterwards
	}{
		{[]string{"lab", "init", "--db", filepath.Join(dir, "a.db"), "--hosts", "3", "-o", "csv"}, "a.db"},
		{[]string{"lab", "init", "--db", filepath.Join(dir, "b.db"), "--hosts", "3", "-o", "md"}, "b.db"},
		{[]string{"docs", "--out", filepath.Join(dir, "docs"), "-o", "csv"}, "docs"},
		{[]string{"plan", "validate", filepath.Join("..", "..", "pkg", "night", "default-plan.yaml"), "-o", "md"}, ""},
		{[]string{"config", "init", "--out", filepath.Join(dir, "c.yaml"), "-o", "json"}, "c.yaml"},
		{[]string{"completion", "bash", "-o", "json"}, ""},
		{[]string{"help", "-o", "csv"}, ""},
		{[]string{"night", "-o", "json"}, ""},
		{[]string{"night", "--dry-run", "-o", "html"}, ""},
		{[]string{"run", "wake", "--dry-run", "-o", "html"}, ""},
		{[]string{"run", "wake", "-o", "csv"}, ""},
		{[]string{"collections", "export", "--format", "ps1", "-o", "json"}, ""},
		{[]string{"collections", "export", "-o", "md"}, ""},
		{[]string{"client", "policy", "--via", "site", "--collection", "SMS00001", "-o", "csv"}, ""},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			out, stderr, code := run(t, nil, tc.args...)
			if code != exit.Usage || !strings.Contains(stderr, "cannot write") {
				t.Errorf("exit %d, stderr %q; want 64, \"cannot write\"", code, stderr)
			}
			checkShape(t, out, stderr)
			if tc.file != "" {
				if _, err := os.Stat(filepath.Join(dir, tc.file)); err == nil {
					t.Errorf("%s was written", tc.file)
				}
			}
		})
	}
}
