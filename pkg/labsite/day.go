package labsite

import (
	"context"
	"fmt"
	"time"
)

// Morning starts the lab's working day once per simulated day, at 08:30 site time (UTC in
// the lab): on most machines that are on, their usual user logs on, and part of the
// machines that were off are switched on by people arriving (laptops brought in, desktops
// switched on). These are the machines the scan-behind watcher is for. The choice of
// machines is fixed by their ResourceID, so a night is reproducible.
func (s *Site) Morning(ctx context.Context) error {
	now := s.Sim.Now()
	day := time.Date(now.Year(), now.Month(), now.Day(), 8, 30, 0, 0, time.UTC)
	if now.Before(day) || now.Weekday() == time.Saturday || now.Weekday() == time.Sunday {
		return nil
	}
	s.mu.Lock()
	done := !s.dayStarted.Before(day)
	if !done {
		s.dayStarted = day
	}
	s.mu.Unlock()
	if done {
		return nil
	}
	ts := now.UTC().Format("2006-01-02 15:04:05")
	// Power first: arriving people switch machines on (2 in 3 of those off, but not
	// machines still restarting); then users log on to 4 in 5 machines that are on.
	if _, err := s.DB.ExecContext(ctx, `UPDATE lab_host SET Power = 'on', LastOnline = ?
		WHERE Power = 'off' AND OfflineUntil IS NULL AND IsClient = 1 AND ResourceID % 3 <> 0`, ts); err != nil {
		return fmt.Errorf("lab morning: %w", err)
	}
	if _, err := s.DB.ExecContext(ctx, `UPDATE lab_host SET CurrentUser = COALESCE(PrimaryUser, LastLogonUser)
		WHERE Power = 'on' AND CurrentUser IS NULL AND COALESCE(PrimaryUser, LastLogonUser) IS NOT NULL
		  AND ResourceID % 5 <> 0`); err != nil {
		return fmt.Errorf("lab morning: %w", err)
	}
	return nil
}
