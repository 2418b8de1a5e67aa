package wire

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"strconv"
)

// The functions below decode frames as DecodeFrame and Decode do, with the
// same results, in fewer passes over the header when it is laid out as
// Marshal and the broker write it:
//
//	{"t":"TYPE"[,"f":"NAME"][,"to":"NAME"][,"id":N][,"re":N][,"z":N][,"b":BODY][,"f":"NAME"]}
//
// encoding/json reads a header twice to decode an envelope (once to find its
// end, once to fill it) and once more to re-encode it, and a scan part or an
// Apply of a few thousand entries is a header of a megabyte: the broker and
// the hub spent most of a no-change restart of 100,000 files there. A header
// laid out otherwise, or anything these shortcuts are not sure of, takes the
// strict path, which decides.

// DecodeMessage decodes a frame and its message: the frame, message and
// errors that DecodeFrame (frameErr) then Decode (msgErr) return, but with
// the body read once by the strict decoder rather than the header twice
// more.
func DecodeMessage(b []byte) (f Frame, m Message, frameErr, msgErr error) {
	if f, body, ok := fastFrame(b); ok {
		if f.Z > 0 {
			// The body is compressed at the head of the data: inflated, it
			// is decoded as a plain one would be.
			var err error
			if f, err = f.open(); err != nil {
				return f, nil, nil, err
			}
			body = f.Body
		}
		if m, err := decodeBody(f.Type, body); err == nil {
			f.Body = body
			return f, m, nil, nil
		}
		// The strict path names what is wrong, as the frame or as the body.
	}
	f, frameErr = DecodeFrame(b)
	if frameErr != nil {
		return f, nil, frameErr, nil
	}
	if f, msgErr = f.open(); msgErr != nil {
		return f, nil, nil, msgErr
	}
	m, msgErr = Decode(f)
	return f, m, nil, msgErr
}

// Reframe returns the header of b's frame as the broker forwards it, with
// From set to from, 5-byte prefix included, and the frame decoded; its data
// is f.Data. The error is DecodeFrame's. A header laid out as Marshal writes
// it, without a From, is checked for being JSON and gets `,"f":"from"`
// appended, not decoded and encoded again; a later "f" wins in JSON, so no
// peer can name itself someone else.
func Reframe(b []byte, from string) (f Frame, hdr []byte, err error) {
	if f, body, ok := fastFrame(b); ok && f.From == "" && safeString(from) && (body == nil || json.Valid(body)) {
		n := binary.BigEndian.Uint32(b[1:5])
		old := b[5 : 5+n]
		hdr = make([]byte, 5, 5+len(old)+len(from)+7)
		hdr[0] = FrameFormat
		hdr = append(hdr, old[:len(old)-1]...)
		hdr = append(hdr, `,"f":"`...)
		hdr = append(hdr, from...)
		hdr = append(hdr, `"}`...)
		if len(hdr)-5 <= MaxHeader {
			binary.BigEndian.PutUint32(hdr[1:5], uint32(len(hdr)-5))
			f.From = from
			f.Body = body
			return f, hdr, nil
		}
	}
	f, err = DecodeFrame(b)
	if err != nil {
		return f, nil, err
	}
	env := f.Envelope
	env.From = from
	hdr, err = EncodeFrame(env, nil)
	if err != nil {
		return f, nil, err
	}
	f.From = from
	return f, hdr, nil
}

// decodeBody is Decode's work on a body.
func decodeBody(t Type, body []byte) (Message, error) {
	return Decode(Frame{Envelope: Envelope{Type: t, Body: body}})
}

// fastFrame splits b as DecodeFrame would when its header has the layout
// above, without decoding the body; ok is false otherwise.
func fastFrame(b []byte) (f Frame, body []byte, ok bool) {
	if len(b) < 5 || b[0] != FrameFormat {
		return f, nil, false
	}
	n := binary.BigEndian.Uint32(b[1:5])
	if n > MaxHeader || int(n) > len(b)-5 {
		return f, nil, false
	}
	f.Data = b[5+n:]
	if len(f.Data) > MaxData {
		return f, nil, false
	}
	if len(f.Data) == 0 {
		f.Data = nil
	}
	env, body, ok := fastEnvelope(b[5 : 5+n])
	if !ok {
		return f, nil, false
	}
	if _, known := registry[env.Type]; !known {
		return f, nil, false
	}
	f.Envelope = env
	if checkZ(f) != nil {
		return f, nil, false
	}
	return f, body, true
}

// fastEnvelope parses a header with the layout above. body is nil when
// the header has no "b".
func fastEnvelope(h []byte) (env Envelope, body []byte, ok bool) {
	p, ok := cut(h, `{"t":"`)
	if !ok {
		return env, nil, false
	}
	var s string
	if s, p, ok = str(p); !ok {
		return env, nil, false
	}
	env.Type = Type(s)
	if q, found := cut(p, `,"f":"`); found {
		if env.From, p, ok = str(q); !ok {
			return env, nil, false
		}
	}
	if q, found := cut(p, `,"to":"`); found {
		if env.To, p, ok = str(q); !ok {
			return env, nil, false
		}
	}
	if q, found := cut(p, `,"id":`); found {
		if env.ID, p, ok = num(q); !ok {
			return env, nil, false
		}
	}
	if q, found := cut(p, `,"re":`); found {
		if env.Reply, p, ok = num(q); !ok {
			return env, nil, false
		}
	}
	if q, found := cut(p, `,"z":`); found {
		var z uint64
		if z, p, ok = num(q); !ok || z == 0 || z > MaxData {
			return env, nil, false
		}
		env.Z = int(z)
	}
	// What is left: [,"b":BODY][,"f":"NAME"]}
	if len(p) == 0 || p[len(p)-1] != '}' {
		return env, nil, false
	}
	p = p[:len(p)-1]
	if from, rest, found := trailingFrom(p); found {
		env.From, p = from, rest
	}
	if len(p) == 0 {
		return env, nil, true
	}
	if body, ok = cut(p, `,"b":`); !ok || len(body) == 0 {
		return env, nil, false
	}
	return env, body, true
}

// trailingFrom splits `...,"f":"NAME"` into "..." and NAME.
func trailingFrom(p []byte) (from string, rest []byte, ok bool) {
	if len(p) < 2 || p[len(p)-1] != '"' {
		return "", p, false
	}
	i := len(p) - 2
	for i >= 0 && safeByte(p[i]) {
		i--
	}
	const key = `,"f":"`
	if i < len(key)-1 || !bytes.Equal(p[i-len(key)+1:i+1], []byte(key)) {
		return "", p, false
	}
	return string(p[i+1 : len(p)-1]), p[:i-len(key)+1], true
}

func cut(p []byte, prefix string) ([]byte, bool) {
	if len(p) < len(prefix) || string(p[:len(prefix)]) != prefix {
		return p, false
	}
	return p[len(prefix):], true
}

// str reads a string of safe bytes up to its closing quote, and the rest
// after it.
func str(p []byte) (string, []byte, bool) {
	for i, c := range p {
		if c == '"' {
			return string(p[:i]), p[i+1:], true
		}
		if !safeByte(c) {
			return "", p, false
		}
	}
	return "", p, false
}

// num reads a JSON number that fits a uint64, written as json.Marshal
// writes one (no sign, no leading zero, no fraction), and the rest.
func num(p []byte) (uint64, []byte, bool) {
	i := 0
	var v uint64
	for i < len(p) && p[i] >= '0' && p[i] <= '9' {
		d := uint64(p[i] - '0')
		if v > (1<<64-1-d)/10 {
			return 0, p, false
		}
		v = v*10 + d
		i++
	}
	if i == 0 || (p[0] == '0' && i > 1) || (i < len(p) && (p[i] == '.' || p[i] == 'e' || p[i] == 'E')) {
		return 0, p, false
	}
	return v, p[i:], true
}

// safeByte is a byte that JSON writes as itself inside a string and that
// names and types use: no quote, backslash, control, HTML or non-ASCII
// byte.
func safeByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.'
}

func safeString(s string) bool {
	for i := 0; i < len(s); i++ {
		if !safeByte(s[i]) {
			return false
		}
	}
	return true
}

// fastEncode lays out env (whose Body json.Marshal wrote, so compact and
// valid) and data as EncodeFrame does, byte for byte, without having
// json.Marshal check and copy the body once more; ok is false when a string
// would need escaping, or a limit is passed: EncodeFrame decides then.
func fastEncode(env Envelope, data []byte) (b []byte, ok bool) {
	if env.From != "" || !safeString(string(env.Type)) || !safeString(env.To) || (len(env.Body) == 0) == (env.Z == 0) || len(data) > MaxData {
		return nil, false
	}
	b = make([]byte, 5, 5+len(env.Body)+len(env.Type)+len(env.To)+64+len(data))
	b[0] = FrameFormat
	b = append(b, `{"t":"`...)
	b = append(b, env.Type...)
	b = append(b, '"')
	if env.To != "" {
		b = append(b, `,"to":"`...)
		b = append(b, env.To...)
		b = append(b, '"')
	}
	if env.ID != 0 {
		b = strconv.AppendUint(append(b, `,"id":`...), env.ID, 10)
	}
	if env.Reply != 0 {
		b = strconv.AppendUint(append(b, `,"re":`...), env.Reply, 10)
	}
	if env.Z != 0 {
		b = strconv.AppendInt(append(b, `,"z":`...), int64(env.Z), 10)
	} else {
		b = append(b, `,"b":`...)
		b = append(b, env.Body...)
	}
	b = append(b, '}')
	n := len(b) - 5
	if n > MaxHeader {
		return nil, false
	}
	binary.BigEndian.PutUint32(b[1:5], uint32(n))
	return append(b, data...), true
}
