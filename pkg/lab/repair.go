package lab

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Client repair in the lab (issue 17). SMS_Client.RepairClient is UNCONFIRMED: Microsoft's
// SMS_Client class reference lists no such method, community scripts call it (it starts
// ccmrepair in the background). The lab does not settle the question silently: whether its
// clients have the method is a lab setting (FaultRates.NoRepairMethod, lab_meta
// repair_client_method; default: available), and what a repair fixes is an assumption
// (FaultRates.RepairFix, lab_meta repair_fix_rate), both in docs/lab.md.

const (
	// DefaultRepairFix is the lab's default share of hopeless-install and failed-scan
	// machines whose fault a client repair clears: an assumption (docs/lab.md), no source
	// gives a figure.
	DefaultRepairFix = 0.5
	// RepairBusy is how long a client does not answer while ccmrepair runs: an assumption
	// (docs/lab.md).
	RepairBusy = 10 * time.Minute

	metaRepairFix    = "repair_fix_rate"
	metaRepairMethod = "repair_client_method"
	streamRepair     = 0x7265706169720006
)

// RepairResult is the lab's answer to a client repair request.
type RepairResult struct {
	Available bool // the client's SMS_Client has RepairClient (the lab setting)
	Cleared   bool // the repair cleared the machine's install or scan fault (lab truth only)
}

func faultsOf(o Options) FaultRates {
	if o.Faults == nil {
		return DefaultFaults()
	}
	return *o.Faults
}

func repairMethodText(absent bool) string {
	if absent {
		return "absent"
	}
	return "available"
}

// repairSettings reads the lab's repair settings; a lab built before them has the defaults.
func repairSettings(ctx context.Context, tx *sql.Tx) (rate float64, available bool, seed int64, err error) {
	rate, available = DefaultRepairFix, true
	meta := func(key string) (string, bool, error) {
		var v string
		err := tx.QueryRowContext(ctx, `SELECT value FROM lab_meta WHERE key = ?`, key).Scan(&v)
		if errors.Is(err, sql.ErrNoRows) {
			return "", false, nil
		}
		return v, err == nil, err
	}
	if v, ok, err := meta(metaRepairFix); err != nil {
		return 0, false, 0, err
	} else if ok {
		if rate, err = strconv.ParseFloat(v, 64); err != nil {
			return 0, false, 0, fmt.Errorf("lab_meta %s %q: %w", metaRepairFix, v, err)
		}
	}
	if v, ok, err := meta(metaRepairMethod); err != nil {
		return 0, false, 0, err
	} else if ok {
		available = v != "absent"
	}
	v, ok, err := meta("seed")
	if err != nil {
		return 0, false, 0, err
	}
	if ok {
		if seed, err = strconv.ParseInt(v, 10, 64); err != nil {
			return 0, false, 0, fmt.Errorf("lab_meta seed %q: %w", v, err)
		}
	}
	return rate, available, seed, nil
}

// Repair answers SMS_Client.RepairClient on host. Without the method (the lab setting) it
// changes nothing. With it, the client does not answer for RepairBusy (ccmrepair
// restarts the client's services: an assumption; the Sim's host actions, scan, install,
// restart, evaluation and policy, are refused as offline), and a machine with a hopeless install
// fault or a failed-scan fault has both cleared when its own draw (seed, ResourceID, its
// own stream) is below the repair fix rate: the same machine always gets the same answer,
// and the rate moves no other fault. The product sees only what later scans and installs
// show.
func (s *Sim) Repair(ctx context.Context, host string) (RepairResult, error) {
	var res RepairResult
	err := s.action(ctx, host, "repair", func(tx *sql.Tx, h HostInfo, now string) (string, error) {
		rate, available, seed, err := repairSettings(ctx, tx)
		if err != nil {
			return "", err
		}
		if !available {
			return "no RepairClient method", nil
		}
		res.Available = true
		if s.repairing == nil {
			s.repairing = map[int64]time.Time{}
		}
		s.repairing[h.ResourceID] = s.Now().Add(RepairBusy)
		faulty := h.InstallFault != 0 || h.ScanFault != 0
		if !faulty || newRand(seed, streamRepair, uint64(h.ResourceID)).Float64() >= rate {
			return "repair ran, nothing cleared", nil
		}
		if _, err := tx.ExecContext(ctx, `UPDATE lab_host SET InstallFault = 0, ScanFault = 0 WHERE ResourceID = ?`, h.ResourceID); err != nil {
			return "", err
		}
		res.Cleared = true
		return "repair ran, install and scan faults cleared", nil
	})
	return res, err
}

// repairBusy reports whether a client repair keeps host rid from answering at now. The
// caller holds s.mu.
func (s *Sim) repairBusy(rid int64, now time.Time) bool {
	until, ok := s.repairing[rid]
	if ok && !now.Before(until) {
		delete(s.repairing, rid)
		return false
	}
	return ok
}
