//go:build race

package main

// Under -race the detector slows SQLite and the WinRM round trips down several times over,
// so the issue 15 acceptance tests (rehearse_test.go) run the same checks on smaller labs,
// the demo's with more of the faults whose reasons it looks for.
const (
	rehearseHosts = 40
	demoWaveHosts = 150
)

var demoWaveRates = []string{"--no-come-back-rate", "0.05", "--chain-rate", "0.4"}
