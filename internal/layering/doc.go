// Package layering holds no code: its test reads `go list` output for the whole module and
// enforces where the lab may be used (see layering_test.go).
package layering
