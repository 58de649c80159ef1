//go:build race

package runner_test

// consistencyHosts under -race: the detector slows SQLite and the WinRM round trips down
// several times over, so the same checks run on a smaller lab.
const consistencyHosts = 200

// followUpHosts is the lab of the follow-up test.
const followUpHosts = 60
