package doctor

import (
	"encoding/csv"
	"fmt"
	"strings"
)

// parseSchtasks reads `schtasks /Query /FO CSV /V` and keeps the tasks under \patchnight\.
func parseSchtasks(text string) ([]Task, error) {
	r := csv.NewReader(strings.NewReader(text))
	r.FieldsPerRecord = -1
	recs, err := r.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("read schtasks output: %w", err)
	}
	var out []Task
	for _, rec := range recs {
		if len(rec) < 4 || !strings.HasPrefix(strings.ToLower(rec[1]), `\patchnight\`) {
			continue // header lines (repeated per folder) and other tasks
		}
		out = append(out, Task{Name: rec[1], NextRun: rec[2], Status: rec[3]})
	}
	return out, nil
}
