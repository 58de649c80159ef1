//go:build race

package remote_test

// raceEnabled: the race detector makes every action several times as expensive in CPU.
const raceEnabled = true
