package wire

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// rawFrame lays out hdr and data as a frame without checking either.
func rawFrame(hdr string, data []byte) []byte {
	b := []byte{FrameFormat, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(b[1:], uint32(len(hdr)))
	return append(append(b, hdr...), data...)
}

// withFormat returns a copy of b with another format byte.
func withFormat(b []byte, format byte) []byte {
	b = bytes.Clone(b)
	b[0] = format
	return b
}

// withHeaderLen returns a copy of b announcing a header of n bytes.
func withHeaderLen(b []byte, n uint32) []byte {
	b = bytes.Clone(b)
	binary.BigEndian.PutUint32(b[1:5], n)
	return b
}

var okFrame = rawFrame(`{"t":"ok","b":{}}`, nil)

// badFrames are refused by DecodeFrame or by Decode; frameErr says whether
// the refusal is a frame error (DecodeFrame) or a body error (Decode).
var badFrames = []struct {
	name     string
	frame    []byte
	frameErr bool
	want     string // what the message names
}{
	{"an empty frame is refused", nil, true, "0 bytes is shorter than the 5-byte prefix"},
	{"a frame shorter than its prefix is refused", []byte{FrameFormat, 0, 0}, true, "3 bytes is shorter"},
	{"a zero format byte is refused", withFormat(okFrame, 0), true, "format 0, want 1"},
	{"a newer format byte is refused", withFormat(okFrame, 2), true, "format 2, want 1"},
	{"a JSON text where the format byte goes is refused", []byte(`{"t":"ok"}`), true, "format 123, want 1"},
	{"a header length beyond the buffer is refused", withHeaderLen(okFrame, uint32(len(okFrame)-4)), true, fmt.Sprintf("header length %d does not fit in %d bytes", len(okFrame)-4, len(okFrame)-5)},
	{"a huge header length is refused", withHeaderLen(okFrame, 1<<32-1), true, "header length 4294967295"},
	{"an empty header is refused", rawFrame("", nil), true, "envelope: EOF"},
	{"a header that is not JSON is refused", rawFrame("hello", nil), true, "envelope: invalid character"},
	{"a header cut short is refused", withHeaderLen(okFrame, uint32(len(okFrame)-6)), true, "envelope: unexpected EOF"},
	{"an envelope that is an array is refused", rawFrame(`["ok"]`, nil), true, "envelope: json: cannot unmarshal array"},
	{"an envelope of null is refused as untyped", rawFrame(`null`, nil), true, `unknown message type ""`},
	{"an unknown envelope field is refused", rawFrame(`{"t":"ok","x":1,"b":{}}`, nil), true, `envelope: json: unknown field "x"`},
	{"a misspelt envelope field is refused", rawFrame(`{"t":"ok","reply":1}`, nil), true, `unknown field "reply"`},
	{"a numeric type is refused", rawFrame(`{"t":1}`, nil), true, "envelope: json: cannot unmarshal number"},
	{"a numeric id of the wrong sign is refused", rawFrame(`{"t":"ok","id":-1}`, nil), true, "envelope: json: cannot unmarshal number -1"},
	{"a second envelope after the first is refused", rawFrame(`{"t":"ok"} {"t":"ok"}`, nil), true, "envelope: trailing data"},
	{"trailing text after the envelope is refused", rawFrame(`{"t":"ok"}x`, nil), true, "envelope: trailing data"},
	{"a trailing brace after the envelope is refused", rawFrame(`{"t":"ok","b":{}}}`, nil), true, "envelope: trailing data"},
	{"a trailing bracket after the envelope is refused", rawFrame(`{"t":"ok","b":{}}]`, nil), true, "envelope: trailing data"},
	{"an untyped envelope is refused", rawFrame(`{"b":{}}`, nil), true, `unknown message type ""`},
	{"an unknown type is refused", rawFrame(`{"t":"nope","b":{}}`, nil), true, `unknown message type "nope"`},
	{"a type differing in case is refused", rawFrame(`{"t":"OK","b":{}}`, nil), true, `unknown message type "OK"`},
	{"data over MaxData is refused", rawFrame(`{"t":"read.data","b":{"n":1}}`, make([]byte, MaxData+1)), true, fmt.Sprintf("read.data data of %d bytes exceeds %d", MaxData+1, MaxData)},

	{"an unknown body field is refused", rawFrame(`{"t":"scan","b":{"session":"docs","x":1}}`, nil), false, `decode scan: json: unknown field "x"`},
	{"an unknown field of an entry is refused", rawFrame(`{"t":"scan.part","b":{"session":"docs","entries":[{"p":"a","k":2,"m":0,"o":493,"zz":1}],"stats":{}}}`, nil), false, `decode scan.part: json: unknown field "zz"`},
	{"an unknown field of an error is refused", rawFrame(`{"t":"fail","b":{"error":{"kind":1,"why":"x"}}}`, nil), false, `decode fail: json: unknown field "why"`},
	{"a body of the wrong shape is refused", rawFrame(`{"t":"scan","b":["docs"]}`, nil), false, "decode scan: json: cannot unmarshal array"},
	{"a body field of the wrong type is refused", rawFrame(`{"t":"read.data","b":{"n":"1"}}`, nil), false, "decode read.data: json: cannot unmarshal string"},
	{"a kind beyond its byte is refused", rawFrame(`{"t":"fail","b":{"error":{"kind":256}}}`, nil), false, "decode fail: json: cannot unmarshal number 256"},
	{"a hash that is not hex is refused", rawFrame(`{"t":"scan.part","b":{"session":"docs","entries":[{"p":"a","k":1,"m":0,"o":420,"h":"xyz"}],"stats":{}}}`, nil), false, "decode scan.part: hash: want 64 hex digits, got 3"},
	{"a body that fails validation is refused", rawFrame(`{"t":"detach","b":{"session":""}}`, nil), false, `decode detach: session name ""`},
	{"a missing body that fails validation is refused", rawFrame(`{"t":"scan"}`, nil), false, `decode scan: session name ""`},
}

func TestBadFrames(t *testing.T) {
	for _, tt := range badFrames {
		t.Run(tt.name, func(t *testing.T) {
			f, err := DecodeFrame(tt.frame)
			if tt.frameErr {
				checkErr(t, err, tt.want)
				if !errors.Is(err, ErrFrame) {
					t.Fatalf("error %q does not wrap ErrFrame", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("DecodeFrame: %v", err)
			}
			_, err = Decode(f)
			checkErr(t, err, tt.want)
		})
	}
}

func TestDecodeStrictBody(t *testing.T) {
	// Decode takes a Frame, which a caller may build without DecodeFrame;
	// it holds the body to the same strictness, and every refusal is an
	// ErrFrame so a caller can tell a malformed peer from other failures.
	tests := []struct {
		name      string
		frame     Frame
		want      string
		isFrameEr bool
	}{
		{"a trailing brace after the body is refused", Frame{Envelope: Envelope{Type: TypeScan, Body: []byte(`{"session":"docs"}}`)}}, "decode scan: trailing data", true},
		{"a trailing bracket after the body is refused", Frame{Envelope: Envelope{Type: TypeOK, Body: []byte(`{}]`)}}, "decode ok: trailing data", true},
		{"a second body after the first is refused", Frame{Envelope: Envelope{Type: TypeOK, Body: []byte(`{} {}`)}}, "decode ok: trailing data", true},
		{"an unknown type is a frame error", Frame{Envelope: Envelope{Type: "nope"}}, `unknown message type "nope"`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode(tt.frame)
			checkErr(t, err, tt.want)
			if errors.Is(err, ErrFrame) != tt.isFrameEr {
				t.Fatalf("errors.Is(%q, ErrFrame) = %v, want %v", err, !tt.isFrameEr, tt.isFrameEr)
			}
		})
	}
}

func TestTrailingWhitespaceIsAccepted(t *testing.T) {
	f, err := DecodeFrame(rawFrame("{\"t\":\"scan\",\"b\":{\"session\":\"docs\"}} \r\n\t", nil))
	if err != nil {
		t.Fatal(err)
	}
	f.Body = []byte("{\"session\":\"docs\"}\n")
	if _, err := Decode(f); err != nil {
		t.Fatal(err)
	}
}

func TestFrameLimits(t *testing.T) {
	t.Run("data of exactly MaxData is accepted", func(t *testing.T) {
		data := bytes.Repeat([]byte{0xa5}, MaxData)
		b, err := Marshal("site-b", 1, 0, &ReadData{N: ChunkSize, Codec: CodecZstd}, data)
		if err != nil {
			t.Fatal(err)
		}
		f, err := DecodeFrame(b)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(f.Data, data) {
			t.Fatal("data changed on its way")
		}
	})
	t.Run("data over MaxData is not encoded", func(t *testing.T) {
		_, err := Marshal("site-b", 1, 0, &ReadData{N: 1}, make([]byte, MaxData+1))
		checkErr(t, err, fmt.Sprintf("encode read.data: data of %d bytes exceeds %d", MaxData+1, MaxData))
	})
	t.Run("a header over MaxHeader is not encoded", func(t *testing.T) {
		m := &Attach{Session: "docs", Root: "/srv", Exclude: []string{strings.Repeat("x", MaxHeader)}}
		_, err := Marshal("site-b", 1, 0, m, nil)
		checkErr(t, err, fmt.Sprintf("exceeds %d", MaxHeader))
	})
	t.Run("a header length over MaxHeader is refused even when it fits", func(t *testing.T) {
		hdr := `{"t":"ok"}` + strings.Repeat(" ", MaxHeader)
		_, err := DecodeFrame(rawFrame(hdr, nil))
		checkErr(t, err, fmt.Sprintf("header length %d does not fit", len(hdr)))
		if !errors.Is(err, ErrFrame) {
			t.Fatalf("error %q does not wrap ErrFrame", err)
		}
	})
}

// FuzzDecodeFrame checks that no input makes the decoders panic, and that
// whatever they accept encodes again to a frame that decodes to the same
// message.
func FuzzDecodeFrame(f *testing.F) {
	for _, s := range append(samples(), bigSamples()...) {
		b, err := Marshal("site-b", 7, 3, s.msg, s.data)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, tt := range badFrames {
		if len(tt.frame) < 1<<16 {
			f.Add(tt.frame)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, err := DecodeFrame(b)
		if err != nil {
			if !errors.Is(err, ErrFrame) {
				t.Fatalf("DecodeFrame error %q does not wrap ErrFrame", err)
			}
			return
		}
		// Strict means an accepted header is exactly one JSON value.
		if hdr := b[5 : len(b)-len(fr.Data)]; !json.Valid(hdr) {
			t.Fatalf("accepted header %q is not one JSON value", hdr)
		}
		m, err := Decode(fr)
		if err != nil {
			return
		}
		if m.Type() != fr.Type {
			t.Fatalf("a %q frame decoded to a %q", fr.Type, m.Type())
		}
		fr2, m2 := reencode(t, fr, m)
		if fr2.Type != fr.Type || fr2.To != fr.To || fr2.ID != fr.ID || fr2.Reply != fr.Reply || !bytes.Equal(fr2.Payload(), fr.Payload()) {
			t.Fatalf("envelope %+v re-encoded as %+v", fr.Envelope, fr2.Envelope)
		}
		// JSON does not tell a nil slice from an empty one under
		// omitempty, so compare the first pass by its encoding, and the
		// second pass, which starts from canonical JSON, exactly.
		if a, b := mustJSON(t, m), mustJSON(t, m2); !bytes.Equal(a, b) {
			t.Fatalf("decoded %s\nre-decoded %s", a, b)
		}
		if _, m3 := reencode(t, fr2, m2); !reflect.DeepEqual(m2, m3) {
			t.Fatalf("second round trip changed %#v\ninto %#v", m2, m3)
		}
	})
}

// reencode marshals m as fr's sender would and decodes it again.
func reencode(t *testing.T, fr Frame, m Message) (Frame, Message) {
	t.Helper()
	b, err := Marshal(fr.To, fr.ID, fr.Reply, m, fr.Payload())
	if err != nil {
		t.Fatalf("re-encode %#v: %v", m, err)
	}
	fr2, err := DecodeFrame(b)
	if err != nil {
		t.Fatalf("re-encoded frame %q refused: %v", b, err)
	}
	m2, err := Decode(fr2)
	if err != nil {
		t.Fatalf("re-encoded message %s refused: %v", fr2.Body, err)
	}
	return fr2, m2
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
