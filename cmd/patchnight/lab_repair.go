package main

import (
	"github.com/spf13/pflag"

	"github.com/patchnight/patchnight/pkg/lab"
)

// addRepairFlags adds the lab's client repair settings (docs/lab.md, issue 17) to lab init,
// demo and lab rehearse, beside the fault rates.
func addRepairFlags(f *pflag.FlagSet, r *lab.FaultRates) {
	f.Float64Var(&r.RepairFix, "repair-fix-rate", r.RepairFix,
		"share of clients with a hopeless install or a failed scan whose fault a client repair clears (assumption)")
	f.BoolVar(&r.NoRepairMethod, "no-repair-method", r.NoRepairMethod,
		"the clients' SMS_Client has no RepairClient method (the method is unconfirmed; default: it has)")
}
