//go:build windows

package doctor

import (
	"context"
	"fmt"
	"os/exec"
)

// SystemTasks lists the scheduled tasks under \patchnight\ with schtasks. The verbose CSV
// listing's header is localized but its column order is not: HostName, TaskName, Next Run
// Time, Status, ...
func SystemTasks() func(ctx context.Context) ([]Task, error) {
	return func(ctx context.Context) ([]Task, error) {
		out, err := exec.CommandContext(ctx, "schtasks", "/Query", "/FO", "CSV", "/V").Output()
		if err != nil {
			return nil, fmt.Errorf("schtasks /Query: %w", err)
		}
		return parseSchtasks(string(out))
	}
}
