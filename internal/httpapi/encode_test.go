package httpapi

import (
	"math"
	"strconv"
	"testing"
)

// minutesReference is what appendMinutes must write.
func minutesReference(v float32) string {
	f := float64(v)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		f = 0
	}
	return strconv.FormatFloat(math.Round(f*100)/100, 'f', -1, 64)
}

func TestAppendMinutes(t *testing.T) {
	for _, tc := range []struct {
		v    float32
		want string
	}{
		{14.2, "14.2"}, {47.58, "47.58"}, {10, "10"}, {0.004, "0"}, {0.005, "0"}, {0.125, "0.13"}, {1.005, "1"},
		{-0.001, "-0"}, {-3.25, "-3.25"}, {float32(math.NaN()), "0"}, {float32(math.Inf(1)), "0"},
		{1e12, "999999995904"}, {3e38, minutesReference(3e38)},
	} {
		if got := string(appendMinutes(nil, tc.v)); got != tc.want || got != minutesReference(tc.v) {
			t.Errorf("appendMinutes(%v) = %q, want %q (reference %q)", tc.v, got, tc.want, minutesReference(tc.v))
		}
	}
	// A sweep over the float32s an estimate can hold, every bit pattern
	// with a stride, so that every exponent and many mantissas are covered.
	lo, hi := math.Float32bits(0), math.Float32bits(1e7)
	for u := lo; u <= hi; u += 997 {
		v := math.Float32frombits(u)
		if got, want := string(appendMinutes(nil, v)), minutesReference(v); got != want {
			t.Fatalf("appendMinutes(%v) = %q, want %q", v, got, want)
		}
	}
}

func FuzzAppendMinutes(f *testing.F) {
	for _, v := range []float32{14.2, 0.005, -0.001, 1e12, 3e38} {
		f.Add(math.Float32bits(v))
	}
	f.Fuzz(func(t *testing.T, u uint32) {
		v := math.Float32frombits(u)
		if got, want := string(appendMinutes(nil, v)), minutesReference(v); got != want {
			t.Fatalf("appendMinutes(%v) = %q, want %q", v, got, want)
		}
	})
}

func BenchmarkAppendMinutes(b *testing.B) {
	buf := make([]byte, 0, 32)
	for b.Loop() {
		buf = appendMinutes(buf[:0], 47.58)
	}
}

func BenchmarkAppendMinutesStrconv(b *testing.B) {
	buf := make([]byte, 0, 32)
	for b.Loop() {
		buf = strconv.AppendFloat(buf[:0], math.Round(float64(float32(47.58))*100)/100, 'f', -1, 64)
	}
}
