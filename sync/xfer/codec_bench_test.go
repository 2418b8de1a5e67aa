package xfer

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/snappy"
	"github.com/klauspost/compress/zstd"
	"github.com/peerlink/peerlink/wire"
)

// The codec benchmarks measure, per corpus and per codec, what a transfer
// costs: the ratio of bytes on the wire to bytes of content (a piece that
// does not get an eighth smaller is sent raw, as Serve does), the encode and
// decode rates, and from them the seconds to move 1 GiB of that corpus
// across a 50 Mbit/s WAN and across loopback (~1.5 GB/s), encode and decode
// pipelined with the wire: max(encode, bytes/rate, decode). Run with
//
//	go test -run '^$' -bench BenchmarkCodec -benchtime 3x ./sync/xfer
//
// The corpora come from the machine (Go's sources, its tool binaries,
// compressed files under /usr) and from generators (office XML, random);
// a corpus not found is skipped. Rates are per second of CPU of one core.

const (
	benchCorpus = 8 << 20 // bytes per corpus
	wanRate     = 50e6 / 8
	loopRate    = 1.5e9
	gib         = 1 << 30
)

// benchCodec is one candidate: encode encodes src into dst's storage,
// decode decodes src into n bytes in dst's storage where it fits.
type benchCodec struct {
	name   string
	encode func(dst, src []byte) []byte
	decode func(dst, src []byte, n int) ([]byte, error)
}

func benchCodecs(b *testing.B) []benchCodec {
	zenc := func(l zstd.EncoderLevel) *zstd.Encoder {
		e, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(l), zstd.WithEncoderCRC(false))
		if err != nil {
			b.Fatal(err)
		}
		return e
	}
	zf, zd, zb := zenc(zstd.SpeedFastest), zenc(zstd.SpeedDefault), zenc(zstd.SpeedBetterCompression)
	zdec, err := zstd.NewReader(nil)
	if err != nil {
		b.Fatal(err)
	}
	zdecode := func(dst, src []byte, _ int) ([]byte, error) { return zdec.DecodeAll(src, dst[:0]) }
	return []benchCodec{
		{"snappy", func(dst, src []byte) []byte { return snappy.Encode(dst[:cap(dst)], src) },
			func(dst, src []byte, n int) ([]byte, error) { return snappy.Decode(dst[:n], src) }},
		{"s2", func(dst, src []byte) []byte { return s2.Encode(dst[:cap(dst)], src) },
			func(dst, src []byte, n int) ([]byte, error) { return s2.Decode(dst[:n], src) }},
		{"s2better", func(dst, src []byte) []byte { return s2.EncodeBetter(dst[:cap(dst)], src) },
			func(dst, src []byte, n int) ([]byte, error) { return s2.Decode(dst[:n], src) }},
		{"zstd-fastest", func(dst, src []byte) []byte { return zf.EncodeAll(src, dst[:0]) }, zdecode},
		{"zstd-default", func(dst, src []byte) []byte { return zd.EncodeAll(src, dst[:0]) }, zdecode},
		{"zstd-better", func(dst, src []byte) []byte { return zb.EncodeAll(src, dst[:0]) }, zdecode},
		{"peerlink", func(dst, src []byte) []byte {
			c, enc := encodePiece(dst[:0], src)
			if c == wire.CodecNone {
				return src
			}
			return enc
		}, func(dst, src []byte, n int) ([]byte, error) { return decodePiece(wire.CodecZstd, src, n, dst) }},
	}
}

func BenchmarkCodec(b *testing.B) {
	codecs := benchCodecs(b)
	for _, c := range benchCorpora() {
		data := c.load(b)
		shapes := []struct {
			name   string
			pieces [][]byte
		}{
			{"chunk", cutChunks(data)},
			{"file", cutFiles(data)},
			{"batch", batchFiles(cutFiles(data))},
		}
		for _, sh := range shapes {
			for _, k := range codecs {
				b.Run(c.name+"/"+sh.name+"/"+k.name, func(b *testing.B) { runCodec(b, k, sh.pieces) })
			}
		}
	}
}

func runCodec(b *testing.B, k benchCodec, pieces [][]byte) {
	var in, onWire int64
	var enc, dec time.Duration
	encoded := make([][]byte, len(pieces))
	bufs := make([][]byte, len(pieces))
	for i, p := range pieces {
		bufs[i] = make([]byte, 0, s2.MaxEncodedLen(len(p))+64)
	}
	out := make([]byte, 0, wire.ChunkSize)
	for b.Loop() {
		// Encode every piece, then decode those that were worth sending
		// encoded, each phase timed whole in this thread's CPU time, so
		// what other processes do to the machine meanwhile does not count.
		t0 := threadCPU()
		for i, p := range pieces {
			encoded[i] = k.encode(bufs[i][:0], p)
		}
		t1 := threadCPU()
		for i, p := range pieces {
			in += int64(len(p))
			if len(encoded[i]) >= len(p)-len(p)/8 {
				onWire += int64(len(p))
				encoded[i] = nil
				continue
			}
			onWire += int64(len(encoded[i]))
			d, err := k.decode(out[:0], encoded[i], len(p))
			if err != nil {
				b.Fatalf("%s: decode %d bytes: %v", k.name, len(p), err)
			}
			out = d[:0]
		}
		t2 := threadCPU()
		enc, dec = enc+t1-t0, dec+t2-t1
		for i, p := range pieces {
			if encoded[i] != nil {
				if d, err := k.decode(out[:0], encoded[i], len(p)); err != nil || !bytes.Equal(d, p) {
					b.Fatalf("%s: round trip of %d bytes: %v", k.name, len(p), err)
				}
			}
		}
	}
	encS, decS := enc.Seconds()*gib/float64(in), dec.Seconds()*gib/float64(in)
	ratio := float64(onWire) / float64(in)
	b.ReportMetric(ratio, "ratio")
	b.ReportMetric(float64(in)/max(enc.Seconds(), 1e-9)/1e6, "enc-MB/s")
	b.ReportMetric(float64(in)/max(dec.Seconds(), 1e-9)/1e6, "dec-MB/s")
	b.ReportMetric(max(encS, ratio*gib/wanRate, decS), "wan-s/GiB")
	b.ReportMetric(max(encS, ratio*gib/loopRate, decS), "loop-s/GiB")
}

// cutChunks cuts data into wire.ChunkSize pieces, as Fetch reads a large file.
func cutChunks(data []byte) [][]byte {
	var out [][]byte
	for len(data) >= wire.ChunkSize {
		out = append(out, data[:wire.ChunkSize])
		data = data[wire.ChunkSize:]
	}
	return out
}

// cutFiles cuts data into small files of 1 to 64 KiB, log-uniform, as
// FetchMany moves them.
func cutFiles(data []byte) [][]byte {
	r := rand.New(rand.NewPCG(1, 2))
	var out [][]byte
	for len(data) > 0 {
		n := min(len(data), 1<<(10+r.IntN(6))+r.IntN(1<<10))
		out = append(out, data[:n])
		data = data[n:]
	}
	return out
}

// batchFiles groups files as ServeMany sends them: as many as fit in a
// chunk, one after the other, compressed as one piece.
func batchFiles(files [][]byte) [][]byte {
	var out [][]byte
	var cur []byte
	for _, f := range files {
		if len(cur)+len(f) > wire.ChunkSize {
			out, cur = append(out, cur), nil
		}
		cur = append(cur, f...)
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

type benchCorpusSource struct {
	name string
	load func(b *testing.B) []byte
}

var corpusCache sync.Map

func benchCorpora() []benchCorpusSource {
	cached := func(name string, f func() []byte) benchCorpusSource {
		return benchCorpusSource{name, func(b *testing.B) []byte {
			v, _ := corpusCache.LoadOrStore(name, sync.OnceValue(f))
			data := v.(func() []byte)()
			if len(data) < benchCorpus/2 {
				b.Skipf("corpus %s: only %d bytes found on this machine", name, len(data))
			}
			return data
		}}
	}
	return []benchCorpusSource{
		cached("text", func() []byte {
			return gather([]string{"/usr/local/go/src"}, func(p string) bool { return strings.HasSuffix(p, ".go") })
		}),
		cached("xml", func() []byte { return officeXML(benchCorpus) }),
		cached("elf", func() []byte {
			return gather([]string{"/usr/local/go/pkg/tool", "/usr/lib/x86_64-linux-gnu", "/usr/bin"}, isELF)
		}),
		cached("media", func() []byte {
			return gather([]string{"/usr/share/doc", "/usr/local/go", "/usr/lib"}, func(p string) bool {
				switch strings.ToLower(filepath.Ext(p)) {
				case ".gz", ".zip", ".jpg", ".png":
					return true
				}
				return false
			})
		}),
		cached("random", func() []byte { return randomBytes(benchCorpus, 42) }),
	}
}

// gather concatenates files under roots for which take is true, at most
// 1 MiB of each and benchCorpus in all.
func gather(roots []string, take func(path string) bool) []byte {
	var buf bytes.Buffer
	for _, root := range roots {
		filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if buf.Len() >= benchCorpus {
				return filepath.SkipAll
			}
			if err != nil || !d.Type().IsRegular() || !take(p) {
				return nil
			}
			f, err := os.Open(p)
			if err != nil {
				return nil
			}
			defer f.Close()
			io.Copy(&buf, io.LimitReader(f, int64(min(1<<20, benchCorpus-buf.Len()))))
			return nil
		})
	}
	return buf.Bytes()
}

func isELF(p string) bool {
	f, err := os.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	var magic [4]byte
	_, err = io.ReadFull(f, magic[:])
	return err == nil && string(magic[:]) == "\x7fELF"
}

// officeXML writes n bytes of WordprocessingML like a docx's
// word/document.xml: paragraphs of runs with their properties, words drawn
// from a vocabulary.
func officeXML(n int) []byte {
	words := strings.Fields("the project schedule budget review drawing revision level floor plan section " +
		"elevation detail contractor approval meeting office client design structural mechanical " +
		"electrical submittal deadline specification quantity cost estimate phase north south wall door")
	r := rand.New(rand.NewPCG(3, 4))
	var buf bytes.Buffer
	buf.WriteString(`<?xml version="1.0" encoding="UTF-8" standalone="yes"?>` + "\n" +
		`<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>`)
	for buf.Len() < n {
		fmt.Fprintf(&buf, `<w:p w:rsidR="%08X" w:rsidRDefault="%08X"><w:pPr><w:pStyle w:val="Body%d"/><w:spacing w:after="%d"/></w:pPr>`,
			r.Uint32(), r.Uint32(), r.IntN(4), 120*r.IntN(3))
		for range 1 + r.IntN(4) {
			buf.WriteString(`<w:r><w:rPr>`)
			if r.IntN(3) == 0 {
				buf.WriteString(`<w:b/>`)
			}
			fmt.Fprintf(&buf, `<w:sz w:val="%d"/></w:rPr><w:t xml:space="preserve">`, 18+2*r.IntN(4))
			for range 3 + r.IntN(12) {
				buf.WriteString(words[r.IntN(len(words))])
				buf.WriteByte(' ')
			}
			buf.WriteString(`</w:t></w:r>`)
		}
		buf.WriteString("</w:p>")
	}
	return buf.Bytes()[:n]
}
