// Package wql writes the WQL that patchnight sends to the SMS Provider: string literals,
// LIKE patterns, validated identifiers (KB articles, bulletins, collection IDs, collection
// names) and the collection-rule queries built from them. Every WQL text the tool writes is
// built here, and every value that reaches WQL is either validated to a closed character set
// or escaped, so that no input can end a literal early (reference section 4).
//
// Literal rules (reference section 4, [MS-WMI] 2.2.1): a literal is written in double
// quotes; backslash is the escape character, so `\` is written `\\` and `"` is written `\"`.
// Inside a LIKE pattern `%`, `_` and `[` are pattern characters and are written `[%]`, `[_]`
// and `[[]`. Whether backslash is still an escape inside a LIKE pattern is stated
// differently by different sources, so LikeLiteral refuses a backslash instead of guessing
// and picks the quote character the value does not contain.
package wql

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/patchnight/patchnight/pkg/exit"
)

// Errors of the escapers; match them with errors.Is.
var (
	// ErrControl: the value holds a control character (tab, newline, NUL, ...), which no
	// value patchnight writes needs and which the provider's handling of is unconfirmed.
	ErrControl = errors.New("value holds a control character")
	// ErrEncoding: the value is not valid UTF-8.
	ErrEncoding = errors.New("value is not valid UTF-8")
	// ErrLikeBackslash: a LIKE pattern cannot carry a backslash safely (see the package
	// comment).
	ErrLikeBackslash = errors.New("a LIKE pattern cannot carry a backslash")
	// ErrLikeQuotes: a LIKE pattern value holds both quote characters.
	ErrLikeQuotes = errors.New(`a LIKE pattern cannot carry both ' and "`)
)

// checkText refuses invalid UTF-8 and control characters.
func checkText(s string) error {
	if !utf8.ValidString(s) {
		return ErrEncoding
	}
	for _, r := range s {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return fmt.Errorf("%w (U+%04X)", ErrControl, r)
		}
	}
	return nil
}

// String returns s as a WQL string literal: in double quotes, with `\` and `"` escaped by
// a backslash. Values with control characters or invalid UTF-8 are refused.
func String(s string) (string, error) {
	if err := checkText(s); err != nil {
		return "", err
	}
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\\' || c == '"' {
			b.WriteByte('\\')
		}
		b.WriteByte(c)
	}
	b.WriteByte('"')
	return b.String(), nil
}

// LikeEscape returns s with the LIKE pattern characters made literal: `[` → `[[]`,
// `%` → `[%]`, `_` → `[_]`. The result is pattern text, not yet a literal.
func LikeEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '[', '%', '_':
			b.WriteByte('[')
			b.WriteRune(r)
			b.WriteByte(']')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// LikeLiteral returns a quoted LIKE pattern that matches s literally, with a leading `%`
// when anyPrefix and a trailing `%` when anySuffix (so LikeLiteral(s, true, true) matches
// values that contain s). It refuses backslashes, values with both quote characters, control
// characters and invalid UTF-8; it quotes with `"` unless s contains one, then with `'`.
func LikeLiteral(s string, anyPrefix, anySuffix bool) (string, error) {
	if err := checkText(s); err != nil {
		return "", err
	}
	if strings.Contains(s, `\`) {
		return "", ErrLikeBackslash
	}
	q := `"`
	if strings.Contains(s, `"`) {
		if strings.Contains(s, "'") {
			return "", ErrLikeQuotes
		}
		q = "'"
	}
	var b strings.Builder
	b.WriteString(q)
	if anyPrefix {
		b.WriteByte('%')
	}
	b.WriteString(LikeEscape(s))
	if anySuffix {
		b.WriteByte('%')
	}
	b.WriteString(q)
	return b.String(), nil
}

// Equals returns the condition `Class.Property = "value"` with value as an escaped
// literal. class and property must be plain identifiers (letters, digits, underscore).
func Equals(class, property, value string) (string, error) {
	if !isIdent(class) || !isIdent(property) {
		return "", exit.Usagef("use a WMI class and property name", "%q.%q is not a WQL property", class, property)
	}
	lit, err := String(value)
	if err != nil {
		return "", exit.Wrap(exit.Usage, err, "remove control characters", "value for %s.%s", class, property)
	}
	return class + "." + property + " = " + lit, nil
}

// EqualsUint returns the condition `Property = n` for a WMI unsigned integer property.
func EqualsUint(property string, n uint32) (string, error) {
	if !isIdent(property) {
		return "", exit.Usagef("use a WMI property name", "%q is not a WQL property", property)
	}
	return fmt.Sprintf("%s = %d", property, n), nil
}

func isIdent(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '_', c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z':
		case c >= '0' && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}
