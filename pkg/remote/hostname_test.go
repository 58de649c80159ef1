package remote

import "testing"

func TestQualify(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, suffix, want string }{
		{"pc1", "contoso.com", "pc1.contoso.com"},
		{"pc1", ".contoso.com", "pc1.contoso.com"},
		{"pc1", "", "pc1"},
		{"pc1.corp.example", "contoso.com", "pc1.corp.example"},
		{"pc1.corp.example", ".contoso.com", "pc1.corp.example"},
		{"", "contoso.com", ""},
		{"PC1", ".contoso.com", "PC1.contoso.com"},
	} {
		if got := Qualify(tc.name, tc.suffix); got != tc.want {
			t.Errorf("Qualify(%q, %q) = %q, want %q", tc.name, tc.suffix, got, tc.want)
		}
	}
}
