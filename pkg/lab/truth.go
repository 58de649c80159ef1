package lab

import (
	"context"
	"fmt"
	"time"
)

// Patched counts, from the lab's truth rather than the site's views (which lag behind the
// clients' state messages), the eligible clients (active, healthy) and those of them with
// every applicable deployed update installed and restarted (Truth 2): a chained update
// that is not yet applicable counts as missing. It is what `lab rehearse` compares plans
// by; product code measures the site's views instead.
func (s *Sim) Patched(ctx context.Context) (patched, eligible int, err error) {
	err = s.db.QueryRowContext(ctx, `SELECT COUNT(*), COALESCE(SUM(NOT EXISTS (SELECT 1 FROM lab_update_state s
			JOIN lab_update u ON u.CI_ID = s.CI_ID
			WHERE s.ResourceID = h.ResourceID AND s.Truth <> 2 AND u.IsDeployed = 1 AND u.CIType_ID = 1)), 0)
		FROM lab_host h WHERE h.IsClient = 1 AND h.Active = 1 AND h.ClientCheckPass = 1`).Scan(&eligible, &patched)
	if err != nil {
		return 0, 0, fmt.Errorf("lab patched share: %w", err)
	}
	return patched, eligible, nil
}

// Restarts counts the machine restarts the lab saw up to until (lab_event).
func (s *Sim) Restarts(ctx context.Context, until time.Time) (int, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM lab_event WHERE Action = 'restart'
		AND Detail LIKE 'restarted%' AND Time <= ?`, timeText(until)).Scan(&n); err != nil {
		return 0, fmt.Errorf("lab restarts: %w", err)
	}
	return n, nil
}
