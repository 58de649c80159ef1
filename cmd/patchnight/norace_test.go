//go:build !race

package main

// Lab sizes of the issue 15 acceptance tests (rehearse_test.go) without the race detector.
const (
	rehearseHosts = 150 // x 3 seeds x 3 plans: about a minute on an idle machine
	demoWaveHosts = 400
)

// demoWaveRates: the default mix but more machines that do not come back (3%), so that
// the lab has several.
var demoWaveRates = []string{"--no-come-back-rate", "0.03"}
