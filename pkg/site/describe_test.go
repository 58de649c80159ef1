package site_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	mssql "github.com/microsoft/go-mssqldb"

	"github.com/patchnight/patchnight/pkg/site"
	"github.com/patchnight/patchnight/queries"
)

// TestDescribeLabMatchesContracts: on a generated lab, every query's described columns
// are its contract's, in order, and every column the lab types fits the contract's kind.
func TestDescribeLabMatchesContracts(t *testing.T) {
	t.Parallel()
	db, err := site.Open(t.Context(), "sqlite:"+labPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, c := range queries.Contracts() {
		cols, err := db.Describe(t.Context(), c)
		if err != nil {
			t.Errorf("%s: %v", c.Query, err)
			continue
		}
		if len(cols) != len(c.Columns) {
			t.Errorf("%s: %d columns, contract %d", c.Query, len(cols), len(c.Columns))
			continue
		}
		for i, col := range cols {
			if col.Name != c.Columns[i].Name || !col.FitsKind(c.Columns[i].Kind) {
				t.Errorf("%s column %d: %s %q, contract %s %s", c.Query, i, col.Name, col.Type, c.Columns[i].Name, c.Columns[i].Kind)
			}
		}
	}
}

func TestInfoLab(t *testing.T) {
	t.Parallel()
	db, err := site.Open(t.Context(), "sqlite:"+labPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	in, err := db.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if in.Engine != site.SQLite || !strings.HasPrefix(in.Version, "3.") || in.Database != labPath {
		t.Errorf("Info = %+v", in)
	}
}

func TestClassifySchemaError(t *testing.T) {
	t.Parallel()
	sqlServer := mssql.Error{Number: 11529, Message: "The metadata could not be determined because every code path results in an error; see previous errors for some of these.",
		All: []mssql.Error{
			{Number: 208, Message: "Invalid object name 'v_CIAssignmentToGroup'."},
			{Number: 11529, Message: "The metadata could not be determined because every code path results in an error; see previous errors for some of these."},
		}}
	tests := []struct {
		name    string
		err     error
		problem site.SchemaProblem
		object  string
	}{
		{"SQL Server 229", errors.New("mssql: The SELECT permission was denied on the object 'vSMS_SUPSyncStatus', database 'CM_ABC', schema 'dbo'. (229)"), site.Denied, "vSMS_SUPSyncStatus"},
		{"SQL Server 208 behind sp_describe_first_result_set", fmt.Errorf("describe: %w", sqlServer), site.MissingObject, "v_CIAssignmentToGroup"},
		{"SQL Server 207", errors.New("mssql: Invalid column name 'MinSourceVersion'. (207)"), site.MissingColumn, "MinSourceVersion"},
		{"SQLite table", errors.New("SQL logic error: no such table: v_CIRelation (1)"), site.MissingObject, "v_CIRelation"},
		{"SQLite column with alias", errors.New("SQL logic error: no such column: uc.MinSourceVersion (1)"), site.MissingColumn, "MinSourceVersion"},
		{"other", errors.New("connection reset"), "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			se := site.ClassifySchemaError(tc.err)
			if tc.problem == "" {
				if se != nil {
					t.Errorf("classified %v as %+v", tc.err, se)
				}
				return
			}
			if se == nil || se.Problem != tc.problem || se.Name != tc.object {
				t.Errorf("got %+v, want %s %s", se, tc.problem, tc.object)
			}
		})
	}
}
