//go:build race

package main

// Under -race the detector slows SQLite and the WinRM round trips down several times over,
// so the issue 15 acceptance tests (rehearse_test.go) run the same checks on smaller labs,
// the demo's with more of the faults whose reasons it looks for. 40 hosts x 3 seeds is the
// smallest rehearsal whose seed-to-seed spread stays below the waves' margin (30 x 2 did
// not); it took 9 minutes under -race on a machine shared by six test runs.
const (
	rehearseHosts = 40
	demoWaveHosts = 100
)

var demoWaveRates = []string{"--no-come-back-rate", "0.08", "--chain-rate", "0.5", "--away-rate", "0.5"}
