package exit

import (
	"errors"
	"fmt"
	"io/fs"
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

// TestPathErrorsInOurWords: a file error about the path the message names says what
// happened, not the system call and the path again.
func TestPathErrorsInOurWords(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		err  *Error
		want string
	}{
		{Wrap(Usage, &fs.PathError{Op: "stat", Path: "/x/lab.db", Err: fs.ErrNotExist}, "build one", "lab database %s", "/x/lab.db"),
			"lab database /x/lab.db: not found (build one)"},
		{Wrap(Usage, &fs.PathError{Op: "open", Path: "/x/c.yaml", Err: fs.ErrPermission}, "", "config %s", "/x/c.yaml"),
			"config /x/c.yaml: permission denied"},
		{Wrap(Usage, &fs.PathError{Op: "open", Path: "/x/other", Err: fs.ErrNotExist}, "", "config %s", "/x/c.yaml"),
			"config /x/c.yaml: open /x/other: file does not exist"},
		{Wrap(Usage, fmt.Errorf("read: %w", &fs.PathError{Op: "open", Path: "/x/c.yaml", Err: fs.ErrNotExist}), "", "config %s", "/x/c.yaml"),
			"config /x/c.yaml: read: open /x/c.yaml: file does not exist"},
	} {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("got %q, want %q", got, tc.want)
		}
	}
}

// TestOneRemedy: an error with a remedy around one with its own gives the outer remedy
// only, however deep the inner one is.
func TestOneRemedy(t *testing.T) {
	t.Parallel()
	inner := Usagef("write it as YYYY-MM", "month %q is not valid", "2026-13")
	for _, tc := range []struct {
		err  error
		want string
	}{
		{Wrap(Usage, inner, "fix the plan", "plan"), `plan: month "2026-13" is not valid (fix the plan)`},
		{Wrap(Usage, fmt.Errorf("step 3: %w", inner), "fix the plan", "plan"), `plan: step 3: month "2026-13" is not valid (fix the plan)`},
		{Wrap(Usage, inner, "", "plan"), `plan: month "2026-13" is not valid (write it as YYYY-MM)`},
	} {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("got %q, want %q", got, tc.want)
		}
	}
}
