package output

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode"
)

// SnakeKeys returns v as a JSON value (maps, slices, numbers, strings) whose object keys
// are snake_case: "scheduleId" becomes "schedule_id", "KBArticleIDs" "kb_article_ids".
// It is for values whose JSON form is another program's wire format (the camelCase
// objects the remote scripts return), shown in patchnight's own -o json documents.
func SnakeKeys(v any) (any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("snake_case keys: %w", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.UseNumber() // keep large integers exact
	var x any
	if err := dec.Decode(&x); err != nil {
		return nil, fmt.Errorf("snake_case keys: %w", err)
	}
	return snakeValue(x), nil
}

func snakeValue(x any) any {
	switch t := x.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, v := range t {
			out[SnakeCase(k)] = snakeValue(v)
		}
		return out
	case []any:
		for i, v := range t {
			t[i] = snakeValue(v)
		}
		return t
	}
	return x
}

// SnakeCase writes a camelCase or PascalCase name in snake_case; a run of capitals is one
// word ("operationID" is "operation_id", "IDs" is "ids"); a name already in snake_case is
// unchanged.
func SnakeCase(s string) string {
	r := []rune(s)
	var b strings.Builder
	for i, c := range r {
		if unicode.IsUpper(c) && i > 0 {
			prev := r[i-1]
			nextLower := i+1 < len(r) && unicode.IsLower(r[i+1]) && r[i+1] != 's' || i+2 < len(r) && r[i+1] == 's' && unicode.IsLower(r[i+2])
			if prev != '_' && (unicode.IsLower(prev) || unicode.IsDigit(prev) || unicode.IsUpper(prev) && nextLower) {
				b.WriteByte('_')
			}
		}
		b.WriteRune(unicode.ToLower(c))
	}
	return b.String()
}
