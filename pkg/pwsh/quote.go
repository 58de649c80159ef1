// Package pwsh writes values into the PowerShell text patchnight generates (the task
// registration script, collection exports). It holds the one quoting rule those generators
// share; the scripts that run remotely take their values as JSON parameters instead
// (scripts/bootstrap.ps1) and need none.
package pwsh

import "strings"

// Quote returns s as a PowerShell single-quoted (verbatim) string literal, for Windows
// PowerShell 5.1 and PowerShell 7 alike. PowerShell's tokenizer opens and closes such a
// literal at any of five single-quote characters, ' and the typographic ‘ ’ ‚ ‛ (U+2018,
// U+2019, U+201A, U+201B), and reads two of them in a row as one quote character; so each
// of the five is doubled. Nothing else is special inside single quotes: no $, no backtick,
// no escapes, and line breaks are kept. Bytes of s that are not UTF-8 become U+FFFD, one
// each, since the generated scripts are UTF-8 text.
func Quote(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('\'')
	for _, r := range s {
		if isQuote(r) {
			b.WriteRune(r)
		}
		b.WriteRune(r)
	}
	b.WriteByte('\'')
	return b.String()
}

// isQuote reports whether PowerShell reads r as a single quote.
func isQuote(r rune) bool {
	switch r {
	case '\'', '\u2018', '\u2019', '\u201A', '\u201B':
		return true
	}
	return false
}
