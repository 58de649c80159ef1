//go:build race

package main

// Under -race the detector slows SQLite and the WinRM round trips down several times over,
// so the issue 15 acceptance tests (rehearse_test.go) run the same checks on smaller labs.
const (
	rehearseHosts = 60
	demoWaveHosts = 200
)
