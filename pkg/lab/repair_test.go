package lab

import (
	"context"
	"errors"
	"testing"
)

// TestSimRepair: SMS_Client.RepairClient in the lab (issue 17). The method's presence is
// the lab's setting (unconfirmed on real clients); a repair clears a machine's install and
// scan faults when the machine's own draw is below the fix rate, and the client does not
// answer while ccmrepair runs.
func TestSimRepair(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name        string
		method      string // lab_meta repair_client_method
		rate        string // lab_meta repair_fix_rate
		faulty      bool   // pick a machine with a hopeless install fault
		wantAvail   bool
		wantCleared bool
	}{
		{"method absent", "absent", "1", true, false, false},
		{"always clears", "available", "1", true, true, true},
		{"never clears", "available", "0", true, true, false},
		{"nothing to clear", "available", "1", false, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, clk := simLab(t)
			ctx := context.Background()
			for k, v := range map[string]string{metaRepairMethod: tc.method, metaRepairFix: tc.rate} {
				if _, err := s.db.Exec(`INSERT OR REPLACE INTO lab_meta (key, value) VALUES (?, ?)`, k, v); err != nil {
					t.Fatal(err)
				}
			}
			cond := healthyOn
			if tc.faulty {
				cond = `h.IsClient = 1 AND h.Power = 'on' AND h.InstallFault <> 0 AND h.AwayAt IS NULL`
			}
			name := pick(t, s, cond)
			res, err := s.Repair(ctx, name)
			if err != nil {
				t.Fatal(err)
			}
			if res.Available != tc.wantAvail || res.Cleared != tc.wantCleared {
				t.Fatalf("Repair = %+v, want available %v cleared %v", res, tc.wantAvail, tc.wantCleared)
			}
			h, err := s.Host(ctx, name)
			if err != nil {
				t.Fatal(err)
			}
			if cleared := h.InstallFault == 0; tc.faulty && cleared != tc.wantCleared {
				t.Errorf("install fault %#x after the repair, cleared %v", h.InstallFault, tc.wantCleared)
			}
			// While ccmrepair runs the client does not answer; afterwards it does.
			err = s.Evaluate(ctx, name)
			if busy := errors.Is(err, ErrOffline); busy != tc.wantAvail {
				t.Errorf("right after the repair: %v, want busy %v", err, tc.wantAvail)
			}
			clk.Advance(RepairBusy)
			if err := s.Evaluate(ctx, name); err != nil {
				t.Errorf("after %s: %v", RepairBusy, err)
			}
		})
	}
}
