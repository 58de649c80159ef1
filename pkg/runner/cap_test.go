package runner_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
)

const capPlan = `name: cap-night
restart_cap: {per: location, max: 2}
steps:
  - id: restart-all
    at: PT 20:00
    action: restart
    target: all
    limit: 6h
`

// TestRestartCapPerLocation: with restart_cap max 2 per location, the lab never has more
// than two machines of one location down for a restart at once, and no machine is
// restarted twice by the waves.
func TestRestartCapPerLocation(t *testing.T) {
	t.Parallel()
	path := buildLab(t, 80)
	e := newEnvPlan(t, path, filepath.Join(t.TempDir(), "state"), capPlan, nil)
	defer e.close()
	if err := e.run.Night(context.Background()); err != nil {
		t.Fatal(err)
	}
	raw, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	rows, err := raw.Query(`SELECT e.ResourceID, h.Location, e.Action FROM lab_event e JOIN lab_host h ON h.ResourceID = e.ResourceID
		WHERE (e.Action = 'restart' AND e.Detail LIKE 'restarted%') OR (e.Action = 'online' AND e.Detail = 'back from restart')
		ORDER BY e.Seq`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	down := map[string]map[int64]bool{}
	peak, restarts := 0, 0
	for rows.Next() {
		var id int64
		var loc, action string
		if err := rows.Scan(&id, &loc, &action); err != nil {
			t.Fatal(err)
		}
		if down[loc] == nil {
			down[loc] = map[int64]bool{}
		}
		if action == "restart" {
			restarts++
			down[loc][id] = true
			if n := len(down[loc]); n > peak {
				peak = n
			}
			if n := len(down[loc]); n > 2 {
				t.Errorf("%d machines of %s down for a restart at once", n, loc)
			}
		} else {
			delete(down[loc], id)
		}
	}
	if restarts < 20 || peak != 2 {
		t.Errorf("%d restarts, at most %d per location at once: the test proves nothing", restarts, peak)
	}
	var online int
	raw.QueryRow(`SELECT COUNT(DISTINCT ResourceID) FROM lab_event WHERE Action = 'restart' AND Detail LIKE 'restarted%'`).Scan(&online)
	if online != restarts {
		t.Errorf("%d restarts of %d machines: a machine was restarted twice", restarts, online)
	}
}
