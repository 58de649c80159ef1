package sitecoll_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"github.com/patchnight/patchnight/internal/labtest"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/patchnight/patchnight/collections"
	"github.com/patchnight/patchnight/pkg/lab/labprovider"
	"github.com/patchnight/patchnight/pkg/provider"
	"github.com/patchnight/patchnight/pkg/site"
	"github.com/patchnight/patchnight/scripts"
)

// templatePath is one lab built for the whole test binary (building is the slow part);
// tests that write get their own copy (newLab).
var templatePath string

// labNow is the lab's clock at build time: Patch Tuesday 2026-12-08 15:00 UTC.
var labNow = time.Date(2026, 12, 8, 15, 0, 0, 0, time.UTC)

const labGroup = "Patch Tuesday 2026-12"

func TestMain(m *testing.M) { labtest.Main(m, &templatePath, 300, 7) }

// testLab is a private copy of the lab: the site database as the product reads it
// (read-only, through pkg/site) and a writable handle for the lab double.
type testLab struct {
	path string
	site *site.DB
	rw   *sql.DB
}

func newLab(t *testing.T) *testLab {
	t.Helper()
	path := filepath.Join(t.TempDir(), "lab.db")
	src, err := os.Open(templatePath)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	db, err := site.Open(ctx, "sqlite:"+path)
	if err != nil {
		t.Fatal(err)
	}
	rw, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(10000)&_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	rw.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close(); rw.Close() })
	return &testLab{path: path, site: db, rw: rw}
}

func defs(t *testing.T) *collections.Set {
	t.Helper()
	s, err := collections.Load()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// labRunner is a provider.Runner that answers in-process with the lab double, the way the
// lab's WS-Man endpoint does: parameters and results travel as JSON, the script must be an
// embedded script whose op header names it, and the clock moves one second per call.
type labRunner struct {
	db    *sql.DB
	mu    sync.Mutex
	now   time.Time
	calls []string
}

func (r *labRunner) Run(ctx context.Context, script string, params any, out any) error {
	text, err := scripts.Get(script)
	if err != nil {
		return err
	}
	if op, _ := scripts.Op(text); op != script {
		return fmt.Errorf("script %s names op %q", script, op)
	}
	b, err := json.Marshal(params)
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.now = r.now.Add(time.Second)
	now := r.now
	r.calls = append(r.calls, script)
	r.mu.Unlock()
	res, err := labprovider.HandleOp(ctx, r.db, script, b, now)
	if err != nil {
		return err
	}
	rb, err := json.Marshal(res)
	if err != nil {
		return err
	}
	return json.Unmarshal(rb, out)
}

func (r *labRunner) count(script string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, c := range r.calls {
		if c == script {
			n++
		}
	}
	return n
}

func newProvider(t *testing.T, l *testLab) (*provider.Provider, *labRunner) {
	t.Helper()
	r := &labRunner{db: l.rw, now: labNow}
	p, err := provider.New(r, "LAB")
	if err != nil {
		t.Fatal(err)
	}
	return p, r
}
