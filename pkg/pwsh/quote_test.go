package pwsh

import (
	"strings"
	"testing"
)

// tokenizerQuotes are the characters PowerShell's tokenizer takes for a single quote
// (CharExtensions.IsSingleQuote in System.Management.Automation, the same in Windows
// PowerShell 5.1 and PowerShell 7): written out here rather than taken from isQuote, so
// that the tests check Quote against the tokenizer, not against itself.
const tokenizerQuotes = "'\u2018\u2019\u201A\u201B"

// readLiteral reads a single-quoted literal at the start of s the way PowerShell's tokenizer
// does: any of the five single-quote characters opens it; inside, a quote character followed
// by another stands for the second one, and a lone one closes the literal. It returns the
// value and the text after the closing quote.
func readLiteral(s string) (value, rest string, ok bool) {
	q := func(r rune) bool { return strings.ContainsRune(tokenizerQuotes, r) }
	r := []rune(s)
	if len(r) == 0 || !q(r[0]) {
		return "", "", false
	}
	var b strings.Builder
	for i := 1; i < len(r); i++ {
		if q(r[i]) {
			if i+1 < len(r) && q(r[i+1]) {
				i++
				b.WriteRune(r[i])
				continue
			}
			return b.String(), string(r[i+1:]), true
		}
		b.WriteRune(r[i])
	}
	return "", "", false
}

func TestQuote(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"plain", "'plain'"},
		{"", "''"},
		{"it's", "'it''s'"},
		{"‘x’", "'‘‘x’’'"},
		{"a‚b‛c", "'a‚‚b‛‛c'"},
		{"‘’‚‛'", "'‘‘’’‚‚‛‛'''"},
		{"$env:x `n $(Get-Date)", "'$env:x `n $(Get-Date)'"},
		{`say "hi" “twice”`, `'say "hi" “twice”'`},
		{"line\nbreak", "'line\nbreak'"},
		{"100% [done]", "'100% [done]'"},
		{"'; Remove-Item C:\\ -Recurse; '", "'''; Remove-Item C:\\ -Recurse; '''"},
		{"\xff\xfe", "'\uFFFD\uFFFD'"},
	} {
		if got := Quote(tc.in); got != tc.want {
			t.Errorf("Quote(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

// FuzzQuote: whatever s holds, Quote(s) followed by more script reads back, the way the
// tokenizer reads it, as s (invalid UTF-8 bytes as U+FFFD) and ends exactly where it should,
// so nothing in s can reach the script as code. Seeds: testdata/fuzz/FuzzQuote.
func FuzzQuote(f *testing.F) {
	const next = " -Next 'x'"
	f.Fuzz(func(t *testing.T, s string) {
		var w strings.Builder // each byte that is not UTF-8 becomes one U+FFFD
		for _, r := range s {
			w.WriteRune(r)
		}
		want := w.String()
		lit := Quote(s)
		got, rest, ok := readLiteral(lit + next)
		if !ok || got != want || rest != next {
			t.Fatalf("Quote(%q) = %s reads back as %q, rest %q, ok %v", s, lit, got, rest, ok)
		}
	})
}
