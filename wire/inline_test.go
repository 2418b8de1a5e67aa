package wire

import (
	"bytes"
	"strings"
	"testing"
)

func TestSplitInline(t *testing.T) {
	data := []byte("aaabbbbcc")
	for _, tc := range []struct {
		name  string
		parts []*Inline
		want  []string
		err   string
	}{
		{"parts in order", []*Inline{{N: 3, Len: 3}, nil, {N: 4, Len: 4}, {N: 9, Len: 2, Codec: CodecZstd}}, []string{"aaa", "", "bbbb", "cc"}, ""},
		{"a part past the end", []*Inline{{N: 3, Len: 3}, {N: 7, Len: 7}}, nil, "left in the data"},
		{"data left over", []*Inline{{N: 3, Len: 3}}, nil, "unused"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := SplitInline(tc.parts, data)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("SplitInline: %v, want an error with %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for i, w := range tc.want {
				if !bytes.Equal(got[i], []byte(w)) {
					t.Fatalf("part %d = %q, want %q", i, got[i], w)
				}
			}
			// A part's slice cannot grow into the next one's bytes.
			if cap(got[0]) != 3 {
				t.Fatalf("part 0 has capacity %d, want 3", cap(got[0]))
			}
		})
	}
}

func TestInlineValidate(t *testing.T) {
	file := Entry{Path: "f", Kind: KindFile, Size: 5, Mode: 0o644}
	dir := Entry{Path: "d", Kind: KindDir, Mode: 0o755}
	for _, tc := range []struct {
		name string
		msg  interface{ Validate() error }
		err  string
	}{
		{"a write with its content", &Changes{Session: "s", Changes: []Change{{Kind: ChangeWrite, Path: "f", Entry: file, Inline: &Inline{N: 5, Len: 5}}}}, ""},
		{"compressed content", &Changes{Session: "s", Changes: []Change{{Kind: ChangeWrite, Path: "f", Entry: file, Inline: &Inline{N: 5, Len: 3, Codec: CodecZstd}}}}, ""},
		{"content of another size", &Changes{Session: "s", Changes: []Change{{Kind: ChangeWrite, Path: "f", Entry: file, Inline: &Inline{N: 4, Len: 4}}}}, "inline content of 4 bytes"},
		{"raw content of the wrong length", &Changes{Session: "s", Changes: []Change{{Kind: ChangeWrite, Path: "f", Entry: file, Inline: &Inline{N: 5, Len: 9}}}}, "stored raw"},
		{"content on a folder", &Changes{Session: "s", Changes: []Change{{Kind: ChangeMkdir, Path: "d", Entry: dir, Inline: &Inline{}}}}, "inline content on a"},
		{"a file too big to inline", &Changes{Session: "s", Changes: []Change{{Kind: ChangeWrite, Path: "f", Entry: Entry{Path: "f", Kind: KindFile, Size: InlineMax + 1}, Inline: &Inline{N: InlineMax + 1, Len: InlineMax + 1}}}}, "at most"},
		{"a close with its content", &Closed{Session: "s", Path: "f", Entry: &file, Inline: &Inline{N: 5, Len: 5}}, ""},
		{"a close with content but no version", &Closed{Session: "s", Path: "f", Inline: &Inline{N: 5, Len: 5}}, "without a version"},
		{"an unknown codec", &Closed{Session: "s", Path: "f", Entry: &file, Inline: &Inline{N: 5, Len: 5, Codec: 99}}, "codec"},
		{"a fetch with its content", &Apply{Session: "s", Ops: []Op{{Kind: OpFetch, Path: "f", From: "a", Want: file, Inline: &Inline{N: 5, Len: 5}}}}, ""},
		{"a delete with content", &Apply{Session: "s", Ops: []Op{{Kind: OpDelete, Path: "f", Inline: &Inline{N: 5, Len: 5}}}}, "inline content"},
		{"a negative length", &Apply{Session: "s", Ops: []Op{{Kind: OpFetch, Path: "f", From: "a", Want: file, Inline: &Inline{N: 5, Len: -1, Codec: CodecZstd}}}}, "bytes of data"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.msg.Validate()
			if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
				t.Fatalf("Validate: %v, want %q", err, tc.err)
			}
		})
	}
}
