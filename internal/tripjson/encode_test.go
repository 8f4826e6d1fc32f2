package tripjson

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestAppendString(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", `""`},
		{"plain", "2024/03_17", `"2024/03_17"`},
		{"quote and backslash", `a"b\c`, `"a\"b\\c"`},
		{"slash is not escaped", "a/b", `"a/b"`},
		{"short escapes", "\b\f\n\r\t", `"\b\f\n\r\t"`},
		{"other controls are lowercase hex", "\x00\x01\x0b\x1a\x1f", `"\u0000\u0001\u000b\u001a\u001f"`},
		{"DEL is copied", "\x7f", "\"\x7f\""},
		{"HTML", "<a href=x&y>", `"\u003ca href=x\u0026y\u003e"`},
		{"line and paragraph separators", "a\u2028b\u2029c", `"a\u2028b\u2029c"`},
		{"neighbours of the separators are copied", "\u2027\u202a", "\"\u2027\u202a\""},
		{"multibyte", "café 🚕 日本", `"café 🚕 日本"`},
		{"U+FFFD itself is copied", "\uFFFD", "\"\uFFFD\""},
		{"invalid byte", "a\xffb", `"a\ufffdb"`},
		{"each invalid byte", "\xff\xfe", `"\ufffd\ufffd"`},
		{"truncated sequence", "\xe2\x82", `"\ufffd\ufffd"`},
		{"surrogate half in UTF-8", "\xed\xa0\x80", `"\ufffd\ufffd\ufffd"`},
		{"overlong encoding", "\xc0\xaf", `"\ufffd\ufffd"`},
		{"escape at the end", "abc\n", `"abc\n"`},
		{"escape at the start", "\"abc", `"\"abc"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := AppendString([]byte("x:"), tt.in)
			if string(got) != "x:"+tt.want {
				t.Errorf("AppendString(%q) = %s, want %s", tt.in, got[2:], tt.want)
			}
			ref, err := json.Marshal(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if string(ref) != tt.want {
				t.Errorf("the test is wrong: json.Marshal(%q) = %s, want %s", tt.in, ref, tt.want)
			}
		})
	}
}

func TestAppendStringAllocs(t *testing.T) {
	s := "ride <1> & \"two\"\n\u2028\xff é " + strings.Repeat("x", 100)
	buf := make([]byte, 0, 4*len(s))
	if n := testing.AllocsPerRun(100, func() { buf = AppendString(buf[:0], s) }); n != 0 {
		t.Errorf("AppendString allocates %v times with room in b", n)
	}
}

// FuzzAppendString checks that AppendString writes exactly what json.Marshal
// writes for every string, keeps what b held, and that its output reads back
// as what encoding/json's does.
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{
		"", "plain ascii 2024/03_17", `"\/`, "\x00\b\f\n\r\t\x1f\x7f", "<script>&amp;</script>",
		"\u2028\u2029\u2027\u202a", "é🚕\uFFFD", "\xff", "a\xe2\x82", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xc0\xaf",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		got := AppendString([]byte("prefix"), s)
		if string(got[:6]) != "prefix" {
			t.Fatalf("AppendString(%q) changed what b held: %q", s, got)
		}
		got = got[6:]
		if string(got) != string(want) {
			t.Fatalf("AppendString(%q) = %s, json.Marshal = %s", s, got, want)
		}
		var back, ref string
		if err := json.Unmarshal(got, &back); err != nil {
			t.Fatalf("AppendString(%q) = %s does not unmarshal: %v", s, got, err)
		}
		if err := json.Unmarshal(want, &ref); err != nil {
			t.Fatal(err)
		}
		if back != ref {
			t.Fatalf("AppendString(%q) reads back as %q, encoding/json's as %q", s, back, ref)
		}
		if utf8.ValidString(s) && back != s {
			t.Fatalf("valid UTF-8 %q reads back as %q", s, back)
		}
	})
}

func BenchmarkAppendString(b *testing.B) {
	for _, bb := range []struct{ name, s string }{
		{"id", "2024/03_1234567"},
		{"ascii", strings.Repeat("taxi-duration model 3 ", 10)},
		{"escapes", strings.Repeat(`a "quoted" <tag> & line\n`, 8)},
		{"unicode", strings.Repeat("café 🚕 日本 ", 10)},
	} {
		b.Run(bb.name, func(b *testing.B) {
			buf := make([]byte, 0, 6*len(bb.s)+2)
			b.SetBytes(int64(len(bb.s)))
			b.ReportAllocs()
			for b.Loop() {
				buf = AppendString(buf[:0], bb.s)
			}
		})
	}
}
