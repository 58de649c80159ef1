//go:build !race

package runner_test

// consistencyHosts is the lab size of the morning-report consistency test: the 2,000 hosts
// of issue 14's acceptance (about a minute without the race detector).
const consistencyHosts = 2000

// followUpHosts is the lab of the follow-up test.
const followUpHosts = 300
