package lab

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"regexp"
	"strings"

	"modernc.org/sqlite"
)

// Site faults: changes to a lab database that make it look like a real site with a
// problem `patchnight doctor` must name (tests and demos only; the product never calls
// them). Each recreates a view; the tables and their rows are left alone.

// denyFunction is the SQLite function a view denied by DenySelect calls: it fails with
// SQL Server's error 229 text for the object it is given, as a login without SELECT on a
// view meets it (reference section 9: vSMS_SUPSyncStatus needs an explicit grant).
const denyFunction = "patchnight_lab_deny"

// deniedError is SQL Server's error 229 as the lab reports it.
type deniedError struct{ object string }

func (e deniedError) Error() string {
	return fmt.Sprintf("The SELECT permission was denied on the object '%s', database 'CM_LAB', schema 'dbo'. (229)", e.object)
}

// The function is deterministic, so SQLite evaluates it once when the statement starts,
// whatever the rows: a denied view fails every read, also one that would return no row,
// as SQL Server checks the permission before it reads.
func init() {
	sqlite.MustRegisterDeterministicScalarFunction(denyFunction, 1, func(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
		return nil, deniedError{object: fmt.Sprint(args[0])}
	})
}

var identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

var viewBodyRE = regexp.MustCompile(`(?is)^\s*CREATE\s+VIEW\s+\S+\s+AS\s+(.*)$`)

// viewBody returns the SELECT of a lab view.
func viewBody(ctx context.Context, db *sql.DB, view string) (string, error) {
	if !identRE.MatchString(view) {
		return "", fmt.Errorf("lab fault: %q is not a view name", view)
	}
	var text string
	err := db.QueryRowContext(ctx, `SELECT sql FROM sqlite_master WHERE type = 'view' AND name = ?`, view).Scan(&text)
	if err != nil {
		return "", fmt.Errorf("lab fault: view %s: %w", view, err)
	}
	m := viewBodyRE.FindStringSubmatch(text)
	if m == nil {
		return "", fmt.Errorf("lab fault: view %s: cannot read its definition", view)
	}
	return strings.TrimRight(strings.TrimSpace(m[1]), ";"), nil
}

// replaceView drops view and creates it again as body, in one transaction.
func replaceView(ctx context.Context, db *sql.DB, view, body string) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("lab fault: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `DROP VIEW `+view); err != nil {
		return fmt.Errorf("lab fault: drop view %s: %w", view, err)
	}
	if body != "" {
		if _, err := tx.ExecContext(ctx, `CREATE VIEW `+view+` AS `+body); err != nil {
			return fmt.Errorf("lab fault: create view %s: %w", view, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("lab fault: %w", err)
	}
	return nil
}

// DenySelect makes every read of the view fail as SQL Server fails a SELECT the login has
// no grant for (error 229).
func DenySelect(ctx context.Context, db *sql.DB, view string) error {
	body, err := viewBody(ctx, db, view)
	if err != nil {
		return err
	}
	return replaceView(ctx, db, view, `SELECT * FROM (`+body+`) WHERE `+denyFunction+`('`+view+`') IS NULL`)
}

// DropViewColumn recreates the view without the column, as a site whose version of the
// view lacks it.
func DropViewColumn(ctx context.Context, db *sql.DB, view, column string) error {
	body, err := viewBody(ctx, db, view)
	if err != nil {
		return err
	}
	rows, err := db.QueryContext(ctx, `SELECT name FROM pragma_table_info(?)`, view)
	if err != nil {
		return fmt.Errorf("lab fault: columns of %s: %w", view, err)
	}
	var keep []string
	found := false
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return fmt.Errorf("lab fault: columns of %s: %w", view, err)
		}
		if strings.EqualFold(n, column) {
			found = true
			continue
		}
		keep = append(keep, `"`+strings.ReplaceAll(n, `"`, `""`)+`"`)
	}
	rows.Close()
	if !found {
		return fmt.Errorf("lab fault: view %s has no column %s", view, column)
	}
	return replaceView(ctx, db, view, `SELECT `+strings.Join(keep, ", ")+` FROM (`+body+`)`)
}

// DropView removes the view, as a site that does not have it.
func DropView(ctx context.Context, db *sql.DB, view string) error {
	if _, err := viewBody(ctx, db, view); err != nil {
		return err
	}
	return replaceView(ctx, db, view, "")
}
