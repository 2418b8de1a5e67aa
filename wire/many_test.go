package wire

import "testing"

func TestReadManyLimits(t *testing.T) {
	ref := func(p string, size int64) FileRef { return FileRef{Path: p, Size: size, Mtime: 1} }
	many := make([]FileRef, MaxReadMany+1)
	for i := range many {
		many[i] = ref("f", 1)
	}
	bad := []struct {
		name string
		m    Message
	}{
		{"no files", &ReadMany{Session: "docs"}},
		{"too many files", &ReadMany{Session: "docs", Files: many}},
		{"bad session", &ReadMany{Session: "", Files: []FileRef{ref("a", 1)}}},
		{"bad path", &ReadMany{Session: "docs", Files: []FileRef{ref("../a", 1)}}},
		{"negative size", &ReadMany{Session: "docs", Files: []FileRef{ref("a", -1)}}},
		{"too many bytes", &ReadMany{Session: "docs", Files: []FileRef{ref("a", ChunkSize), ref("b", 1)}}},
		{"too many parts", &ReadManyData{Parts: make([]ReadPart, MaxReadMany+1)}},
		{"negative length", &ReadManyData{Parts: []ReadPart{{N: -1, Len: -1}}}},
		{"raw part of another length", &ReadManyData{Parts: []ReadPart{{N: 5, Len: 4}}}},
		{"data and an error", &ReadManyData{Parts: []ReadPart{{N: 1, Len: 1, Error: &Error{Kind: KindChanged}}}}},
		{"parts beyond a frame", &ReadManyData{Parts: []ReadPart{{N: ChunkSize, Len: ChunkSize}, {N: ChunkSize, Len: ChunkSize}}}},
		{"an unknown batch codec", &ReadManyData{Parts: []ReadPart{{N: 1, Len: 1}}, Codec: 9}},
		{"a part encoded inside an encoded batch", &ReadManyData{Parts: []ReadPart{{N: 5, Len: 3, Codec: CodecZstd}}, Codec: CodecZstd}},
		{"a part of another length inside an encoded batch", &ReadManyData{Parts: []ReadPart{{N: 5, Len: 3}}, Codec: CodecZstd}},
	}
	for _, tt := range bad {
		if err := tt.m.Validate(); err == nil {
			t.Errorf("%s: accepted", tt.name)
		}
	}
	if err := (&ReadMany{Session: "docs", Files: []FileRef{ref("a", ChunkSize-1), ref("b", 1), ref("c", 0)}}).Validate(); err != nil {
		t.Errorf("a full batch: %v", err)
	}
	if err := (&ReadManyData{Parts: []ReadPart{{N: 5, Len: 5}, {Error: &Error{Kind: KindChanged}}}, Codec: CodecZstd}).Validate(); err != nil {
		t.Errorf("a batch encoded as a whole: %v", err)
	}
}

// A result that leaves its entry out stands for its op's Want.
func TestAppliedWithoutEntry(t *testing.T) {
	m := &Applied{Session: "docs", Results: []OpResult{{Kind: OpFetch, Path: "a", Bytes: 6}, {Kind: OpMkdir, Path: "d"}}}
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
}
