// Package clock holds the one wall-clock wait that patchnight's polling loops share: the
// night runner, the collection refresh wait, the client install wait, the fan-out's
// back-off and the wake sender all sleep through Sleep, so that "wait d, or stop when the
// context ends" is written once.
package clock

import (
	"context"
	"time"
)

// Sleep waits d on the wall clock, or until ctx ends; it returns ctx.Err() when ctx ended
// first, nil when d passed. A d of zero or less returns ctx.Err() at once.
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
