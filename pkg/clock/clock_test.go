package clock

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestSleep(t *testing.T) {
	t.Parallel()
	live := context.Background()
	ended, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name string
		ctx  context.Context
		d    time.Duration
		want error
	}{
		{"zero on a live context", live, 0, nil},
		{"negative on a live context", live, -time.Second, nil},
		{"a nanosecond on a live context", live, time.Nanosecond, nil},
		{"zero on an ended context", ended, 0, context.Canceled},
		// An hour never passes here: the ended context decides at once.
		{"an hour on an ended context", ended, time.Hour, context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if err := Sleep(tt.ctx, tt.d); !errors.Is(err, tt.want) {
				t.Fatalf("Sleep(%v) = %v, want %v", tt.d, err, tt.want)
			}
		})
	}
}
