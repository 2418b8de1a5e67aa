package xfer

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/peerlink/peerlink/wire"
)

// rogueSource answers every ReadMany with the reply and data it holds.
type rogueSource struct {
	reply wire.ReadManyData
	data  []byte
}

func (s *rogueSource) ReadMany(context.Context, string, *wire.ReadMany) (wire.ReadManyData, []byte, error) {
	return s.reply, s.data, nil
}

// A batch of compressible small files travels as one piece, smaller than
// the files compressed one by one.
func TestServeBatchKeepsContext(t *testing.T) {
	tr := newTrees(t)
	req := &wire.ReadMany{Session: "s"}
	for i := range 40 {
		name := "src/f" + string(rune('a'+i%26)) + strings.Repeat("x", i/26) + ".go"
		want := put(t, tr.srcDir, name, compressible(3<<10+i), 0o644, mtime)
		req.Files = append(req.Files, wire.FileRef{Path: want.Path, Size: want.Size, Mtime: want.Mtime})
	}
	one, err := ServeMany(tr.src, srcHost, req)
	if err != nil {
		t.Fatal(err)
	}
	defer one.Release()
	all, err := ServeBatch(tr.src, srcHost, req)
	if err != nil {
		t.Fatal(err)
	}
	defer all.Release()
	if all.Reply.Codec != wire.CodecZstd || len(all.Data) >= len(one.Data) {
		t.Fatalf("batch of %d bytes (%s), %d one by one", len(all.Data), all.Reply.Codec, len(one.Data))
	}
	if err := all.Reply.Validate(); err != nil {
		t.Fatal(err)
	}
}

// Random data is sent raw, and the decision costs no full compression.
func TestServeBatchIncompressible(t *testing.T) {
	tr := newTrees(t)
	want := put(t, tr.srcDir, "r", randomBytes(600<<10, 3), 0o644, mtime)
	req := &wire.ReadMany{Session: "s", Files: []wire.FileRef{{Path: want.Path, Size: want.Size, Mtime: want.Mtime}}}
	b, err := ServeBatch(tr.src, srcHost, req)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Release()
	if b.Reply.Codec != wire.CodecNone || len(b.Data) != int(want.Size) {
		t.Fatalf("random batch sent as %s in %d bytes", b.Reply.Codec, len(b.Data))
	}
}

// A batch whose encoding lies is refused whole, nothing staged, and costs
// no more memory than the sizes asked for.
func TestFetchManyRefusesBadBatch(t *testing.T) {
	content := compressible(8 << 10)
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderCRC(false))
	if err != nil {
		t.Fatal(err)
	}
	good := enc.EncodeAll(content, nil)
	double := enc.EncodeAll(append(bytes.Clone(content), content...), nil)
	part := func(n int) []wire.ReadPart { return []wire.ReadPart{{N: n, Len: n}} }
	tests := []struct {
		name  string
		reply wire.ReadManyData
		data  []byte
		want  string
	}{
		{"a batch claiming more than was asked for", wire.ReadManyData{Parts: part(2 * len(content)), Codec: wire.CodecZstd}, double, "parts claim"},
		{"a batch that decodes to more than it claims", wire.ReadManyData{Parts: part(len(content) - 1), Codec: wire.CodecZstd}, good, "declares"},
		{"a corrupt batch", wire.ReadManyData{Parts: part(len(content)), Codec: wire.CodecZstd}, append(bytes.Clone(good[:len(good)/2]), good[:len(good)/2]...), "zstd"},
		{"a batch in an unknown codec", wire.ReadManyData{Parts: part(len(content)), Codec: 7}, good, "unknown codec"},
		{"raw parts that do not add up to the data", wire.ReadManyData{Parts: part(len(content))}, content[1:], "parts of"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := newTrees(t)
			want := put(t, tr.srcDir, "f.txt", content, 0o644, mtime)
			out, _ := fetchMany(t, &rogueSource{reply: tt.reply, data: tt.data}, tr.dst, []*wire.Op{fetchOp(want, nil)})
			if out[0].Err == nil || !strings.Contains(out[0].Err.Error(), tt.want) {
				t.Fatalf("error %v, want one naming %q", out[0].Err, tt.want)
			}
			if tt.reply.Codec == wire.CodecZstd && !errors.Is(out[0].Err, ErrBadData) {
				t.Errorf("error %v does not wrap ErrBadData", out[0].Err)
			}
			tr.dst.Sync()
			noTemp(t, tr.dstDir)
		})
	}
}

// FuzzOpenBatch: whatever a source answers to a ReadMany of two files,
// openBatch does not panic, and what it accepts splits into the parts'
// lengths and is no larger than what was asked for.
func FuzzOpenBatch(f *testing.F) {
	text := compressible(6 << 10)
	_, frame := encodePiece(nil, text)
	f.Add(uint8(wire.CodecZstd), frame, 4<<10, 2<<10)
	f.Add(uint8(wire.CodecNone), text, 4<<10, 2<<10)
	f.Add(uint8(wire.CodecZstd), frame, 6<<10, 1)
	f.Fuzz(func(t *testing.T, codec uint8, data []byte, n1, n2 int) {
		ops := []*wire.Op{{Want: wire.Entry{Size: 4 << 10}}, {Want: wire.Entry{Size: 2 << 10}}}
		reply := wire.ReadManyData{Parts: []wire.ReadPart{{N: n1, Len: n1}, {N: n2, Len: n2}}, Codec: wire.Codec(codec)}
		if reply.Validate() != nil {
			return // the client refuses such a reply before FetchMany sees it
		}
		got, err := openBatch(&reply, data, ops)
		if err != nil {
			return
		}
		if len(got) != n1+n2 || len(got) > 6<<10 && reply.Codec != wire.CodecNone {
			t.Fatalf("accepted %d bytes for parts of %d and %d", len(got), n1, n2)
		}
	})
}
