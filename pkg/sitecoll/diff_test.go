package sitecoll

import (
	"testing"
)

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
