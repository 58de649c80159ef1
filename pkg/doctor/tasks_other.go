//go:build !windows

package doctor

import "context"

// SystemTasks lists the scheduled tasks under \patchnight\; there are none to list outside
// Windows, so it returns nil and the check is not listed.
func SystemTasks() func(ctx context.Context) ([]Task, error) { return nil }
