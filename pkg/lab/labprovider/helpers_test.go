package labprovider_test

import (
	"database/sql"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/patchnight/patchnight/internal/labtest"
)

// labPath is one small lab built for the whole test binary; tests that write get their own
// copy (openLab).
var labPath string

// labNow is the lab's clock at build time: Patch Tuesday 2026-12-08 15:00 UTC.
var labNow = time.Date(2026, 12, 8, 15, 0, 0, 0, time.UTC)

func TestMain(m *testing.M) { labtest.Main(m, &labPath, 40, 7) }

// openLab opens a private, writable copy of the lab, as the lab's endpoint holds it.
func openLab(t *testing.T) *sql.DB {
	t.Helper()
	path := labtest.Copy(t, labPath)
	db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(10000)&_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	return db
}
