package fleet

import (
	"testing"

	"github.com/patchnight/patchnight/pkg/exit"
)

func TestParseUpdateRef(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want UpdateRef
		ok   bool
	}{
		{"KB4012212", UpdateRef{ArticleID: "4012212"}, true},
		{"kb4012212", UpdateRef{ArticleID: "4012212"}, true},
		{" 4012212 ", UpdateRef{ArticleID: "4012212"}, true},
		{"MS17-010", UpdateRef{BulletinID: "MS17-010"}, true},
		{"ms07-042", UpdateRef{BulletinID: "MS07-042"}, true},
		{"", UpdateRef{}, false},
		{"KB", UpdateRef{}, false},
		{"KB12", UpdateRef{}, false},
		{"MS17-01", UpdateRef{}, false},
		{"MS17-0100", UpdateRef{}, false},
		{"4012212' OR 1=1 --", UpdateRef{}, false},
		{"KB4012212%", UpdateRef{}, false},
		{"MS17_010", UpdateRef{}, false},
		{"KB４０１２２１２", UpdateRef{}, false},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			t.Parallel()
			got, err := ParseUpdateRef(tc.in)
			if tc.ok != (err == nil) {
				t.Fatalf("ParseUpdateRef(%q) error = %v", tc.in, err)
			}
			if got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
			if err != nil && exit.Code(err) != exit.Usage {
				t.Errorf("exit code %d", exit.Code(err))
			}
		})
	}
}

func FuzzParseUpdateRef(f *testing.F) {
	for _, s := range []string{"KB4012212", "MS17-010", "x", "KB'", "ms99-999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := ParseUpdateRef(s)
		if err != nil {
			return
		}
		// Whatever is accepted is digits only, or MSdd-ddd: nothing that could break out
		// of a SQL or WQL literal.
		if (u.ArticleID == "") == (u.BulletinID == "") {
			t.Fatalf("exactly one field must be set: %+v", u)
		}
		for _, c := range u.ArticleID + u.BulletinID {
			if !(c >= '0' && c <= '9' || c == 'M' || c == 'S' || c == '-') {
				t.Fatalf("accepted %q → %+v", s, u)
			}
		}
	})
}

func TestHResult(t *testing.T) {
	t.Parallel()
	for in, want := range map[int64]string{0: "", -2145124322: "0x8024001E", -2145107938: "0x8024401E", -2147023293: "0x80070643", 5: "0x00000005"} {
		if got := HResult(in); got != want {
			t.Errorf("HResult(%d) = %q, want %q", in, got, want)
		}
	}
	if StatusName(2) != "required" || StatusName(7) != "state 7" {
		t.Error(StatusName(2), StatusName(7))
	}
}
