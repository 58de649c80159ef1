package exit

import (
	"errors"
	"fmt"
	"testing"
)

func TestCode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"nil", nil, OK},
		{"plain", errors.New("x"), Failed},
		{"usage", Usagef("hint", "bad %s", "thing"), Usage},
		{"wrapped twice", fmt.Errorf("outer: %w", Wrap(NoPerm, errors.New("401"), "", "auth")), NoPerm},
		{"coder of another package", fmt.Errorf("provider: %w", coded{Unavailable}), Unavailable},
		{"outermost wins", Wrap(Usage, coded{NoPerm}, "", "bad"), Usage},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := Code(tc.err); got != tc.want {
				t.Errorf("Code = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestErrorIsOneLine(t *testing.T) {
	t.Parallel()
	err := Wrap(Usage, errors.New("yaml: unmarshal errors:\n  line 1: field x not found"), "fix it", "config %s", "c.yaml")
	want := "config c.yaml: yaml: unmarshal errors: line 1: field x not found (fix it)"
	if err.Error() != want {
		t.Errorf("got %q, want %q", err.Error(), want)
	}
	if !errors.Is(err, err.Err) {
		t.Error("Unwrap lost the cause")
	}
}

// coded is an error type of another package that knows its exit code.
type coded struct{ code int }

func (c coded) Error() string { return fmt.Sprintf("coded %d", c.code) }
func (c coded) ExitCode() int { return c.code }
