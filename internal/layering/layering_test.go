package layering

import (
	"bytes"
	"encoding/json"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode"
)

// What this test enforces, from `go list -json ./...` (non-test files only, for every
// GOOS: files excluded by build constraints are read too):
//
//  1. No package outside the lab imports a lab package, directly or through another
//     package. Lab packages are pkg/lab, pkg/labsite and internal/labtest with everything
//     below them. Allowed besides them: cmd/patchnight (the lab and demo commands wire the
//     lab) and test helpers (a package under internal/ whose name ends in "test"). Test
//     files may import the lab anywhere: `go list` keeps their imports out of Deps.
//  2. No product package holds a lab double: no non-test file of a package outside the
//     lab, the test helpers and the commands (package main: cmd/patchnight, whose lab and
//     demo commands are named so, and pkg/wol/internal/wolbench) may be named, or declare
//     a top-level name (function, method, type, variable, constant), with one of the
//     words lab, fake, double, stub or mock in it (whole camel-case or snake-case words:
//     "LabError", "labTime", "fake_runner.go"; not "Label").
//
// What it cannot catch: a double whose names say nothing (a type Provider that answers
// from a map), lab-only code under an innocent name, or a function only tests call; those
// need a reader. allowed lists the names a reader has judged not to be doubles, each
// with the reason.
var allowed = map[string]string{
	// pkg/site reads SQLite site databases (the sqlite: DSN of a profile is a product
	// feature: patchnight runs against a lab that way). OpenLab is that reader with a
	// stricter reading of the lab's FLAG columns, which tests use to prove the product
	// reads both types a site may have; it is not a double of anything.
	"github.com/patchnight/patchnight/pkg/site.OpenLab":    "the SQLite site reader, not a double",
	"github.com/patchnight/patchnight/pkg/site.LabOptions": "options of the SQLite site reader",
}

// labRoots are the lab packages, each with everything below it.
var labRoots = []string{"pkg/lab", "pkg/labsite", "internal/labtest"}

// doubleWords are the words that name a double.
var doubleWords = []string{"lab", "labs", "fake", "fakes", "double", "doubles", "stub", "stubs", "mock", "mocks"}

type pkg struct {
	ImportPath     string
	Name           string
	Dir            string
	Module         *struct{ Path string }
	GoFiles        []string
	CgoFiles       []string
	IgnoredGoFiles []string
	Deps           []string
	Error          *struct{ Err string }
}

func TestNoLabOutsideTheLab(t *testing.T) {
	t.Parallel()
	pkgs := goList(t)
	if len(pkgs) < 10 {
		t.Fatalf("go list found only %d packages", len(pkgs))
	}
	var module string
	for _, p := range pkgs {
		if p.Module != nil {
			module = p.Module.Path
			break
		}
	}
	for _, v := range violations(pkgs, module) {
		t.Error(v)
	}
}

// The rules themselves, on a made-up module: each kind of violation is found, and what is
// allowed passes.
func TestRules(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, src string) {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := mkdirAll(filepath.Dir(p)); err != nil {
			t.Fatal(err)
		}
		if err := writeFile(p, src); err != nil {
			t.Fatal(err)
		}
	}
	write("pkg/collection/lab.go", "package collection\n\nfunc HandleLabOp() {}\n")
	write("pkg/report/report.go", "package report\n\ntype Label string\n\nfunc labTime() {}\n")
	write("pkg/notify/notify.go", "package notify\n\nvar fakeClock = 1\n")
	write("pkg/site/site.go", "package site\n\nfunc OpenLab() {}\n")
	write("pkg/lab/sim.go", "package lab\n\nfunc FakeHost() {}\n")
	write("internal/kdctest/kdc.go", "package kdctest\n\nfunc StubKDC() {}\n")
	write("cmd/patchnight/lab_cmd.go", "package main\n\nfunc newLabCmd() {}\n")
	write("pkg/runner/runner.go", "package runner\n")
	write("pkg/wol/wol.go", "package wol\n\nfunc Label() {}\n")
	m := "example.com/m"
	mk := func(rel, name string, files []string, deps ...string) pkg {
		return pkg{ImportPath: m + "/" + rel, Name: name, Dir: filepath.Join(dir, rel), GoFiles: files, Deps: deps}
	}
	pkgs := []pkg{
		mk("pkg/collection", "collection", []string{"lab.go"}),
		mk("pkg/report", "report", []string{"report.go"}),
		mk("pkg/notify", "notify", []string{"notify.go"}),
		mk("pkg/site", "site", []string{"site.go"}),
		mk("pkg/lab", "lab", []string{"sim.go"}),
		mk("pkg/lab/labprovider", "labprovider", nil, m+"/pkg/lab"),
		mk("internal/kdctest", "kdctest", []string{"kdc.go"}, m+"/pkg/lab"),
		mk("cmd/patchnight", "main", []string{"lab_cmd.go"}, m+"/pkg/labsite"),
		mk("pkg/runner", "runner", []string{"runner.go"}, m+"/pkg/wol", m+"/pkg/lab/labprovider"),
		mk("pkg/wol", "wol", []string{"wol.go"}),
	}
	got := violations(pkgs, m)
	want := []string{
		m + "/pkg/collection: file lab.go",
		m + "/pkg/collection: HandleLabOp",
		m + "/pkg/report: labTime",
		m + "/pkg/notify: fakeClock",
		m + "/pkg/site: OpenLab",
		m + "/pkg/runner imports the lab package " + m + "/pkg/lab/labprovider",
	}
	for _, w := range want {
		if !slices.ContainsFunc(got, func(g string) bool { return strings.HasPrefix(g, w) }) {
			t.Errorf("missed %q", w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("got %d violations, want %d:\n%s", len(got), len(want), strings.Join(got, "\n"))
	}
}

func TestDoubleWord(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		want bool
	}{
		{"lab", true}, {"lab.go", true}, {"lab_serve.go", true}, {"labTime", true}, {"LabError", true},
		{"HandleLabOp", true}, {"newFakeRunner", true}, {"stubs_windows.go", true}, {"MockDB", true},
		{"doubleQuote", true}, {"HTTPLab", true},
		{"Label", false}, {"labels.go", false}, {"stepLabel", false}, {"Laboratory", false},
		{"collection.go", false}, {"Collab", false}, {"enabled", false}, {"LABEL", false},
	} {
		if got := doubleWord(tc.name) != ""; got != tc.want {
			t.Errorf("doubleWord(%q) = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// violations applies both rules to the packages of module.
func violations(pkgs []pkg, module string) []string {
	var out []string
	for _, p := range pkgs {
		if isLab(p.ImportPath, module) || isTestHelper(p, module) {
			continue
		}
		if p.ImportPath != module+"/cmd/patchnight" {
			for _, d := range p.Deps {
				if isLab(d, module) {
					out = append(out, p.ImportPath+" imports the lab package "+d+" (directly or through another package)")
				}
			}
		}
		if p.Name == "main" {
			continue // commands wire what they need; cmd/patchnight wires the lab
		}
		files := slices.Concat(p.GoFiles, p.CgoFiles, p.IgnoredGoFiles)
		slices.Sort(files)
		for _, f := range slices.Compact(files) {
			if strings.HasSuffix(f, "_test.go") || !strings.HasSuffix(f, ".go") {
				continue
			}
			if w := doubleWord(f); w != "" {
				out = append(out, p.ImportPath+": file "+f+" is named "+w+": a lab double in a product package")
			}
			names, err := topLevelNames(filepath.Join(p.Dir, f))
			if err != nil {
				out = append(out, p.ImportPath+": "+err.Error())
				continue
			}
			for _, n := range names {
				if _, ok := allowed[p.ImportPath+"."+n]; ok {
					continue
				}
				if w := doubleWord(n); w != "" {
					out = append(out, p.ImportPath+": "+n+" in "+f+" says "+w+": a lab double in a product package")
				}
			}
		}
	}
	return out
}

func isLab(path, module string) bool {
	for _, r := range labRoots {
		if path == module+"/"+r || strings.HasPrefix(path, module+"/"+r+"/") {
			return true
		}
	}
	return false
}

// isTestHelper: a package under internal/ whose name ends in "test" (as net/http/httptest),
// which only tests import.
func isTestHelper(p pkg, module string) bool {
	return strings.HasPrefix(p.ImportPath, module+"/internal/") && strings.HasSuffix(p.Name, "test")
}

// topLevelNames lists the names a file declares at top level, methods included.
func topLevelNames(path string) ([]string, error) {
	f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.SkipObjectResolution)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, d := range f.Decls {
		switch d := d.(type) {
		case *ast.FuncDecl:
			names = append(names, d.Name.Name)
		case *ast.GenDecl:
			for _, s := range d.Specs {
				switch s := s.(type) {
				case *ast.TypeSpec:
					names = append(names, s.Name.Name)
				case *ast.ValueSpec:
					for _, n := range s.Names {
						names = append(names, n.Name)
					}
				}
			}
		}
	}
	return names, nil
}

// doubleWord returns the first word of name (split at '_', '.', '-' and camel-case
// boundaries; an upper-case run is one word) that names a double, or "".
func doubleWord(name string) string {
	for _, w := range words(name) {
		if slices.Contains(doubleWords, strings.ToLower(w)) {
			return w
		}
	}
	return ""
}

func words(s string) []string {
	var out []string
	r := []rune(s)
	start := 0
	flush := func(end int) {
		if end > start {
			out = append(out, string(r[start:end]))
		}
		start = end
	}
	for i := 0; i < len(r); i++ {
		c := r[i]
		if !unicode.IsLetter(c) && !unicode.IsDigit(c) {
			flush(i)
			start = i + 1
			continue
		}
		if i > start && unicode.IsUpper(c) {
			prev := r[i-1]
			nextLower := i+1 < len(r) && unicode.IsLower(r[i+1])
			if unicode.IsLower(prev) || unicode.IsDigit(prev) || (unicode.IsUpper(prev) && nextLower) {
				flush(i)
			}
		}
	}
	flush(len(r))
	return out
}

// goList runs `go list -json ./...` at the module's root.
func goList(t *testing.T) []pkg {
	t.Helper()
	root, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}").Output()
	if err != nil {
		t.Fatalf("go list -m: %v", err)
	}
	cmd := exec.Command("go", "list", "-e", "-json", "./...")
	cmd.Dir = strings.TrimSpace(string(root))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	b, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v: %s", err, stderr.String())
	}
	var pkgs []pkg
	dec := json.NewDecoder(bytes.NewReader(b))
	for {
		var p pkg
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("go list output: %v", err)
		}
		if p.Error != nil {
			t.Fatalf("go list: %s: %s", p.ImportPath, p.Error.Err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

func mkdirAll(dir string) error         { return os.MkdirAll(dir, 0o755) }
func writeFile(path, text string) error { return os.WriteFile(path, []byte(text), 0o644) }
