package main

import (
	"sort"
	"strings"
)

// sortHostRows orders results by host name.
func sortHostRows(rows []hostRow) {
	sort.Slice(rows, func(i, j int) bool { return strings.ToLower(rows[i].Host) < strings.ToLower(rows[j].Host) })
}

// sortRows orders table rows by their first cell.
func sortRows(rows [][]string) {
	sort.Slice(rows, func(i, j int) bool { return rows[i][0] < rows[j][0] })
}
