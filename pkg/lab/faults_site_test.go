package lab

import (
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
)

func TestSiteFaults(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "lab.db")
	if _, err := Generate(t.Context(), path, Options{Hosts: 20, Seed: 2}); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := t.Context()
	count := func(q string) (int, error) {
		var n int
		err := db.QueryRowContext(ctx, q).Scan(&n)
		return n, err
	}

	if err := DenySelect(ctx, db, "vSMS_SUPSyncStatus"); err != nil {
		t.Fatal(err)
	}
	// Denied also for a read that would return no row: SQL Server checks the grant first.
	for _, q := range []string{`SELECT COUNT(*) FROM vSMS_SUPSyncStatus`, `SELECT COUNT(*) FROM vSMS_SUPSyncStatus WHERE 1 = 0`} {
		_, err := count(q)
		if err == nil || !strings.Contains(err.Error(), "The SELECT permission was denied on the object 'vSMS_SUPSyncStatus'") {
			t.Errorf("%s: %v, want error 229", q, err)
		}
	}
	if n, err := count(`SELECT COUNT(*) FROM lab_sup_sync`); err != nil || n == 0 {
		t.Errorf("the table behind the view: %d rows, %v", n, err)
	}

	if err := DropViewColumn(ctx, db, "v_UpdateCIs", "MinSourceVersion"); err != nil {
		t.Fatal(err)
	}
	if _, err := count(`SELECT COUNT(MinSourceVersion) FROM v_UpdateCIs`); err == nil || !strings.Contains(err.Error(), "no such column") {
		t.Errorf("MinSourceVersion after DropViewColumn: %v", err)
	}
	if n, err := count(`SELECT COUNT(UpdateSource_ID) FROM v_UpdateCIs`); err != nil || n == 0 {
		t.Errorf("the other columns after DropViewColumn: %d, %v", n, err)
	}
	if err := DropViewColumn(ctx, db, "v_UpdateCIs", "MinSourceVersion"); err == nil {
		t.Error("dropping a column twice succeeded")
	}

	if err := DropView(ctx, db, "v_CIRelation"); err != nil {
		t.Fatal(err)
	}
	if _, err := count(`SELECT COUNT(*) FROM v_CIRelation`); err == nil || !strings.Contains(err.Error(), "no such table") {
		t.Errorf("v_CIRelation after DropView: %v", err)
	}
	for _, bad := range []string{"v_CIRelation", "x; DROP TABLE lab_host", "lab_host"} {
		if err := DropView(ctx, db, bad); err == nil {
			t.Errorf("DropView(%q) succeeded", bad)
		}
	}
}
