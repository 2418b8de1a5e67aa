package delta

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"reflect"
	"testing"
	"testing/iotest"
)

// Feed gives the hash and the span list a plain serial read gives, for
// every size and buffer size.
func TestFeedMatchesSerial(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, size := range []int{0, 1, 4095, 1 << 20, 3<<20 + 17} {
		for _, bufSize := range []int{1 << 10, 64 << 10, 1 << 20} {
			data := make([]byte, size)
			for i := range data {
				data[i] = byte(rng.Uint32())
			}
			want := NewSpans()
			want.Write(data)
			wantSum := sha256.Sum256(data)

			h, s := sha256.New(), NewSpans()
			// A reader of short reads: Feed must not take them for the end.
			n, err := Feed(context.Background(), iotest.HalfReader(bytes.NewReader(data)), h, s, bufSize)
			if err != nil || n != int64(size) {
				t.Fatalf("size %d, buffer %d: read %d, %v", size, bufSize, n, err)
			}
			if !bytes.Equal(h.Sum(nil), wantSum[:]) {
				t.Errorf("size %d, buffer %d: hash differs", size, bufSize)
			}
			if got := s.Blocks(); !reflect.DeepEqual(got, want.Blocks()) {
				t.Errorf("size %d, buffer %d: %d spans, want %d", size, bufSize, len(got), len(want.Blocks()))
			}
			h2 := sha256.New()
			if n, err := Feed(context.Background(), bytes.NewReader(data), h2, nil, bufSize); err != nil || n != int64(size) || !bytes.Equal(h2.Sum(nil), wantSum[:]) {
				t.Errorf("size %d without a signer: %d, %v", size, n, err)
			}
		}
	}
}

func TestFeedStops(t *testing.T) {
	boom := errors.New("disk gone")
	r := io.MultiReader(bytes.NewReader(make([]byte, 3<<20)), iotest.ErrReader(boom))
	if _, err := Feed(context.Background(), r, sha256.New(), NewSpans(), 1<<20); !errors.Is(err, boom) {
		t.Errorf("a failing read: %v, want %v", err, boom)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Feed(ctx, bytes.NewReader(make([]byte, 1<<20)), sha256.New(), NewSpans(), 1<<10); !errors.Is(err, context.Canceled) {
		t.Errorf("a cancelled feed: %v", err)
	}
}

func BenchmarkFeed(b *testing.B) {
	data := make([]byte, 64<<20)
	rng := rand.New(rand.NewPCG(1, 1))
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	b.Run("serial", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			h, s := sha256.New(), NewSpans()
			io.CopyBuffer(io.MultiWriter(h, s), bytes.NewReader(data), make([]byte, 1<<20))
		}
	})
	b.Run("feed", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			Feed(context.Background(), bytes.NewReader(data), sha256.New(), NewSpans(), 256<<10)
		}
	})
}
