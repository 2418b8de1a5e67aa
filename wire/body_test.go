package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// bigSamples are messages whose bodies Marshal compresses: an Apply of a
// tree's files, and a ReadManyData whose files travel beside its body.
func bigSamples() []sample {
	apply := &Apply{Session: "docs"}
	many := &ReadManyData{}
	var data []byte
	for i := range 200 {
		p := fmt.Sprintf("projects/group-%03d/document-%04d.dat", i/20, i)
		want := fileEntry(p)
		want.Hash[0], want.Size = byte(i), int64(i%7)
		apply.Ops = append(apply.Ops, Op{Kind: OpFetch, Path: p, From: "site-a", Want: want})
		many.Parts = append(many.Parts, ReadPart{N: i % 7, Len: i % 7})
		data = append(data, bytes.Repeat([]byte{byte(i)}, i%7)...)
	}
	return []sample{
		{"a large apply", apply, nil},
		{"a batch of files", many, data},
	}
}

func TestLargeBodyTravelsCompressed(t *testing.T) {
	for _, s := range bigSamples() {
		t.Run(s.name, func(t *testing.T) {
			plain, err := EncodeFrame(Envelope{Type: s.msg.Type(), To: "site-b", ID: 7, Body: mustJSON(t, s.msg)}, s.data)
			if err != nil {
				t.Fatal(err)
			}
			b, err := Marshal("site-b", 7, 0, s.msg, s.data)
			if err != nil {
				t.Fatal(err)
			}
			if len(b) >= len(plain)*3/4 {
				t.Fatalf("frame of %d bytes, %d plain: not compressed", len(b), len(plain))
			}
			// The broker routes it without inflating it, and forwards the
			// compressed body with the data.
			f, hdr, err := Reframe(b, "site-a")
			if err != nil {
				t.Fatal(err)
			}
			if f.Z == 0 || f.Body != nil || f.To != "site-b" {
				t.Fatalf("routed as %+v, want a compressed body to site-b", f.Envelope)
			}
			for _, fwd := range [][]byte{append(hdr, f.Data...), b} {
				g, m, fe, me := DecodeMessage(fwd)
				if fe != nil || me != nil {
					t.Fatalf("decode: %v / %v", fe, me)
				}
				if !reflect.DeepEqual(m, s.msg) {
					t.Fatalf("decoded %#v, sent %#v", m, s.msg)
				}
				if g.Z != 0 || !bytes.Equal(g.Data, s.data) || (g.Data == nil) != (s.data == nil) {
					t.Fatalf("data of %d bytes received, %d sent", len(g.Data), len(s.data))
				}
				if m2, err := Decode(mustFrame(t, fwd)); err != nil || !reflect.DeepEqual(m2, s.msg) {
					t.Fatalf("strict path decoded %#v (%v)", m2, err)
				}
			}
		})
	}
}

func TestSmallBodyStaysPlain(t *testing.T) {
	for _, s := range samples() {
		b, err := Marshal("site-b", 7, 3, s.msg, s.data)
		if err != nil {
			t.Fatal(err)
		}
		if f := mustFrame(t, b); f.Z != 0 && len(mustJSON(t, s.msg)) < MinBodyCompress {
			t.Errorf("%s: a body of %d bytes was compressed", s.name, len(f.Body))
		}
	}
	// A handshake message stays plain however large: a peer reads it
	// within MaxHello bytes before it knows the other side's version.
	for _, s := range []Message{
		&Hello{Role: RoleAgent, Name: "site-b", Protocol: ProtocolVersion, Token: strings.Repeat("t", 4*MinBodyCompress)},
		&Welcome{Protocol: ProtocolVersion, Version: strings.Repeat("v", 4*MinBodyCompress)},
		&Refused{Error: Error{Kind: KindPermission, Msg: strings.Repeat("no ", 2*MinBodyCompress)}},
	} {
		if b, _ := Marshal("", 0, 0, s, nil); mustFrame(t, b).Z != 0 {
			t.Errorf("a %s was compressed: a peer of another version could not read it", s.Type())
		}
	}
}

func mustFrame(t *testing.T, b []byte) Frame {
	t.Helper()
	f, err := DecodeFrame(b)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// zstdFrame compresses b, declaring its size or not, and optionally patches
// the declared size to declare.
func zstdFrame(t *testing.T, b []byte, declare int64) []byte {
	t.Helper()
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderCRC(false), zstd.WithSingleSegment(true))
	if err != nil {
		t.Fatal(err)
	}
	z := enc.EncodeAll(b, nil)
	if declare >= 0 {
		// Single segment, 4-byte content size: descriptor 0b10_1_00_0_00.
		var h zstd.Header
		if err := h.Decode(z); err != nil || !h.HasFCS {
			t.Fatalf("header %+v: %v", h, err)
		}
		if z[4]>>6 == 2 {
			binary.LittleEndian.PutUint32(z[5:9], uint32(declare))
		} else {
			t.Skipf("encoder wrote a content size field of another width (descriptor %08b)", z[4])
		}
	}
	return z
}

func TestCompressedBodyRefused(t *testing.T) {
	body := mustJSON(t, bigSamples()[0].msg)
	good := zstdFrame(t, body, -1)
	frame := func(hdr string, data []byte) []byte { return rawFrame(hdr, data) }
	zhdr := func(n int) string { return fmt.Sprintf(`{"t":"apply","to":"site-b","z":%d}`, n) }
	zframe := func(z []byte) []byte { return frame(zhdr(len(z)), z) }
	tests := []struct {
		name     string
		frame    []byte
		frameErr bool
		want     string
	}{
		{"a compressed body longer than the data is refused", frame(zhdr(len(good)+1), good), true, fmt.Sprintf("compressed body of %d bytes in %d bytes of data", len(good)+1, len(good))},
		{"a negative compressed length is refused", frame(`{"t":"apply","z":-1}`, good), true, "compressed body of -1 bytes"},
		{"a compressed body beside a plain one is refused", frame(`{"t":"apply","z":4,"b":{}}`, good), true, "both a body and a compressed body"},
		{"a compressed body that is not zstd is refused", zframe([]byte("not zstd")), false, "apply: compressed body"},
		{"a compressed body that does not declare its size is refused", zframe(stripFCS(t, body)), false, "(known: false)"},
		{"a compressed body declaring more than MaxHeader is refused", zframe(zstdFrame(t, body, MaxHeader+1)), false, fmt.Sprintf("declares %d bytes", MaxHeader+1)},
		{"a compressed body holding more than it declares is refused", zframe(zstdFrame(t, body, int64(len(body)/2))), false, "apply: compressed body"},
		{"a compressed body holding less than it declares is refused", zframe(zstdFrame(t, body, int64(len(body)+10))), false, "apply: compressed body"},
		{"a compressed body that is not JSON is refused", zframe(zstdFrame(t, []byte("{{{{"), -1)), false, "decode apply"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := tt.frame
			_, _, fe, me := DecodeMessage(b)
			err := me
			if tt.frameErr {
				err = fe
			} else if fe != nil {
				t.Fatalf("refused as a frame (%v), want the body refused", fe)
			}
			checkErr(t, err, tt.want)
			if !errors.Is(err, ErrFrame) {
				t.Fatalf("error %q does not wrap ErrFrame", err)
			}
			checkSameDecoding(t, b)
			checkReframe(t, b, "site-a")
		})
	}
}

// stripFCS compresses b into a zstd frame that does not declare its size.
func stripFCS(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc, err := zstd.NewWriter(&buf, zstd.WithEncoderCRC(false))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := enc.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
	var h zstd.Header
	if err := h.Decode(buf.Bytes()); err != nil || h.HasFCS {
		t.Skipf("a streamed frame declared its size (%+v, %v)", h, err)
	}
	return buf.Bytes()
}
