package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
)

// slowMessage is DecodeMessage's reference: DecodeFrame, then Decode.
func slowMessage(b []byte) (Frame, Message, error, error) {
	f, err := DecodeFrame(b)
	if err != nil {
		return f, nil, err, nil
	}
	m, err := Decode(f)
	return f, m, nil, err
}

// checkSameDecoding fails unless DecodeMessage decodes b exactly as the
// strict path does.
func checkSameDecoding(t *testing.T, b []byte) {
	t.Helper()
	f1, m1, fe1, me1 := DecodeMessage(b)
	f2, m2, fe2, me2 := slowMessage(b)
	if (fe1 == nil) != (fe2 == nil) || (me1 == nil) != (me2 == nil) {
		t.Fatalf("%q: DecodeMessage errors %v / %v, strict path %v / %v", b, fe1, me1, fe2, me2)
	}
	if fe1 != nil {
		if fe1.Error() != fe2.Error() || !errors.Is(fe1, ErrFrame) {
			t.Fatalf("%q: frame error %q, strict path %q", b, fe1, fe2)
		}
		return
	}
	if f1.Envelope.Type != f2.Type || f1.From != f2.From || f1.To != f2.To || f1.ID != f2.ID || f1.Reply != f2.Reply ||
		!bytes.Equal(f1.Data, f2.Payload()) || (f1.Data == nil) != (f2.Payload() == nil) {
		t.Fatalf("%q: frame %+v, strict path %+v", b, f1, f2)
	}
	if me1 != nil {
		if me1.Error() != me2.Error() {
			t.Fatalf("%q: message error %q, strict path %q", b, me1, me2)
		}
		return
	}
	if !reflect.DeepEqual(m1, m2) {
		t.Fatalf("%q: message %#v, strict path %#v", b, m1, m2)
	}
}

// checkReframe fails unless the header Reframe forwards decodes, for the
// receiver, as the strict path's re-encoding does.
func checkReframe(t *testing.T, b []byte, from string) {
	t.Helper()
	f1, hdr, err1 := Reframe(b, from)
	f2, err2 := DecodeFrame(b)
	if (err1 == nil) != (err2 == nil) {
		t.Fatalf("%q: Reframe error %v, DecodeFrame %v", b, err1, err2)
	}
	if err1 != nil {
		if err1.Error() != err2.Error() {
			t.Fatalf("%q: Reframe error %q, DecodeFrame %q", b, err1, err2)
		}
		return
	}
	if f1.Type != f2.Type || f1.To != f2.To || f1.ID != f2.ID || f1.Reply != f2.Reply || f1.From != from || !bytes.Equal(f1.Data, f2.Data) {
		t.Fatalf("%q: Reframe frame %+v, DecodeFrame %+v", b, f1, f2)
	}
	fwd := append(bytes.Clone(hdr), f1.Data...)
	g, m, fe, me := slowMessage(fwd)
	if fe != nil {
		t.Fatalf("%q forwarded as %q, refused: %v", b, fwd, fe)
	}
	env := f2.Envelope
	env.From = from
	want, err := EncodeFrame(env, f2.Data)
	if err != nil {
		t.Fatal(err)
	}
	g2, m2, fe2, me2 := slowMessage(want)
	if fe2 != nil || g.From != from || g.Type != g2.Type || g.To != g2.To || g.ID != g2.ID || g.Reply != g2.Reply ||
		!bytes.Equal(g.Data, g2.Data) || (me == nil) != (me2 == nil) || !reflect.DeepEqual(m, m2) {
		t.Fatalf("%q forwarded as %q decodes as %+v %#v (%v), want %+v %#v (%v)", b, fwd, g.Envelope, m, me, g2.Envelope, m2, me2)
	}
	checkSameDecoding(t, fwd)
}

// fastSeeds are frames for both paths: samples as Marshal and the broker
// lay them out, and headers built to trip a hand parser.
func fastSeeds(t testing.TB) [][]byte {
	var out [][]byte
	for _, s := range append(samples(), bigSamples()...) {
		b, err := Marshal("site-b", 7, 3, s.msg, s.data)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
		f, hdr, err := Reframe(b, "site-a")
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, append(hdr, f.Data...))
	}
	for _, tt := range badFrames {
		if len(tt.frame) < 1<<16 {
			out = append(out, tt.frame)
		}
	}
	for _, h := range []string{
		`{"t":"ok"}`, `{"t":"ok","b":{}}`, `{"t":"ok","b":null}`, `{"t":"ok","b":{},"f":"x"}`,
		`{"t":"ok","f":"a","b":{},"f":"b"}`, `{"t":"ok","f":"a"}`, `{"t":"ok","f":"a","f":"b"}`,
		`{"t":"ok","id":0}`, `{"t":"ok","id":007}`, `{"t":"ok","id":18446744073709551615}`, `{"t":"ok","id":18446744073709551616}`,
		`{"t":"ok","id":1.5}`, `{"t":"ok","id":1e3}`, `{"t":"ok","re":-1}`, `{"t":"ok","to":"a\"b"}`, `{"t":"ok","to":"\u0061"}`,
		`{"t":"ok","b":{"x":1}}`, `{"t":"ok","b":{},"x":1}`, `{"t":"ok","b":{}}}`, `{"t":"ok","b":{}`, `{"t":"ok","b":}`,
		`{"t":"ok","b":{},"f":"x"},"f":"y"}`, `{"t":"fail","b":{"error":{"kind":1,"msg":"\",\"f\":\"x"}}}`,
		`{"t":"fail","b":{"error":{"kind":1,"msg":"y"},"f":"x"}}`, `{"t":"progress","b":{"session":"s","bytes":1},"f":"x"}`,
		`{"t":"ok","b":"x","f":"y"}`, `{"t":"ok","b":"x\",\"f\":\"y"}`, `{"t":"nope","b":{}}`, `{"t":"ok" ,"b":{}}`,
	} {
		out = append(out, rawFrame(h, nil), rawFrame(h, []byte("data")))
	}
	return out
}

// Marshal's shortcut writes exactly what EncodeFrame writes.
func TestMarshalMatchesEncodeFrame(t *testing.T) {
	for _, s := range samples() {
		for _, env := range []Envelope{{To: "site-b", ID: 7, Reply: 3}, {To: HubName}, {Reply: 1 << 63}, {To: "a\"b<>"}, {}} {
			got, err := Marshal(env.To, env.ID, env.Reply, s.msg, s.data)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := json.Marshal(s.msg)
			env.Type, env.Body = s.msg.Type(), body
			want, err := EncodeFrame(env, s.data)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s to %q: Marshal wrote %q\nEncodeFrame %q", s.name, env.To, got, want)
			}
		}
	}
}

func TestDecodeMessageMatchesStrictPath(t *testing.T) {
	for _, b := range fastSeeds(t) {
		checkSameDecoding(t, b)
		checkReframe(t, b, "site-a")
	}
}

func FuzzDecodeMessage(f *testing.F) {
	for _, b := range fastSeeds(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		checkSameDecoding(t, b)
		checkReframe(t, b, "site-a")
	})
}

// The shortcut must not make the broker's work slower than the strict
// path it replaces, nor the receiver's.
func BenchmarkScanPartThroughBroker(b *testing.B) {
	part := &ScanPart{Session: "docs"}
	for i := range 2000 {
		e := fileEntry("docs/a.txt")
		e.Path = "d0001/f" + string(rune('a'+i%26)) + ".dat"
		part.Entries = append(part.Entries, e)
	}
	frame, err := Marshal(HubName, 0, 9, part, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("strict", func(b *testing.B) {
		b.SetBytes(int64(len(frame)))
		for b.Loop() {
			f, _ := DecodeFrame(frame)
			env := f.Envelope
			env.From = "site-a"
			hdr, _ := EncodeFrame(env, nil)
			f2, _ := DecodeFrame(hdr)
			Decode(f2)
		}
	})
	b.Run("fast", func(b *testing.B) {
		b.SetBytes(int64(len(frame)))
		for b.Loop() {
			_, hdr, _ := Reframe(frame, "site-a")
			DecodeMessage(hdr)
		}
	})
}
