package collection

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// readPSSingleQuoted reads a PowerShell single-quoted literal at the start of s the way
// PowerShell's tokenizer does: any of ' ‘ ’ ‚ ‛ opens and closes it, and two of them in a
// row stand for one. It returns the value and the rest of s after the literal.
func readPSSingleQuoted(s string) (value, rest string, ok bool) {
	r := []rune(s)
	if len(r) == 0 || !isPSQuote(r[0]) {
		return "", "", false
	}
	var b strings.Builder
	for i := 1; i < len(r); i++ {
		if isPSQuote(r[i]) {
			if i+1 < len(r) && isPSQuote(r[i+1]) {
				b.WriteRune(r[i+1])
				i++
				continue
			}
			return b.String(), string(r[i+1:]), true
		}
		b.WriteRune(r[i])
	}
	return "", "", false
}

func FuzzPSQuote(f *testing.F) {
	for _, s := range []string{"", "it's", "‘smart’ quotes", "$(Remove-Item C:\\)", "`n", "'; Remove-CMCollection -Id X; '", "‚‛"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) {
			return // the values quoted are validated UTF-8 first
		}
		lit := PSQuote(s)
		got, rest, ok := readPSSingleQuoted(lit + " -Next 'x'")
		if !ok || got != s || rest != " -Next 'x'" {
			t.Fatalf("PSQuote(%q) = %s reads back as %q, rest %q, ok %v", s, lit, got, rest, ok)
		}
	})
}

func TestPSQuote(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"plain":       "'plain'",
		"it's":        "'it''s'",
		"‘x’":         "'‘‘x’’'",
		"$env:x `n":   "'$env:x `n'",
		`say "hi"`:    `'say "hi"'`,
		"":            "''",
		"a‚b‛c":       "'a‚‚b‛‛c'",
		"100% [done]": "'100% [done]'",
	} {
		if got := PSQuote(in); got != want {
			t.Errorf("PSQuote(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestDiffIDs(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		want, have, add, remove []int64
	}{
		{nil, nil, nil, nil},
		{[]int64{1, 2, 3}, nil, []int64{1, 2, 3}, nil},
		{nil, []int64{4}, nil, []int64{4}},
		{[]int64{1, 3, 5}, []int64{2, 3, 4}, []int64{1, 5}, []int64{2, 4}},
		{[]int64{7}, []int64{7}, nil, nil},
	} {
		add, remove := diffIDs(tc.want, tc.have)
		if !equal(add, tc.add) || !equal(remove, tc.remove) {
			t.Errorf("diffIDs(%v, %v) = %v, %v", tc.want, tc.have, add, remove)
		}
	}
}

func equal(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
