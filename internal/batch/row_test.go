package batch

import "testing"

// The counter must render exactly what rideIDs.appendID renders, whatever
// the order of the rows: in sequence, across a carry, after a jump, and for
// rows that bring their own id.
func TestIDCounter(t *testing.T) {
	tests := []struct {
		name    string
		prefix  string
		indexes []int64
	}{
		{"sequence from 0", "2021/01_", []int64{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}},
		{"carries", "2021/01_", []int64{8, 9, 10, 98, 99, 100, 101, 998, 999, 1000, 9999, 10000}},
		{"no prefix", "", []int64{0, 1, 9, 10, 11, 99, 100}},
		{"jumps and repeats", "x_", []int64{5, 3, 4, 4, 5, 1 << 40, 1<<40 + 1, 0, 1}},
		{"own ids between", "2024/03_", []int64{0, -1, 1, -1, 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ids := rideIDs{prefix: tt.prefix}
			c := idCounter{ids: ids}
			for _, i := range tt.indexes {
				r := tripRow{Index: i}
				if i < 0 {
					r = tripRow{RideID: "own-id"}
				}
				got, want := string(c.append(nil, &r)), string(ids.appendID(nil, &r))
				if got != want {
					t.Fatalf("after index %d: got %q, want %q", c.index, got, want)
				}
			}
		})
	}
}
