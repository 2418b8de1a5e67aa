package broker

import (
	"context"
	"errors"
	"testing"
	"time"
)

func frameOf(n int) outFrame { return outFrame{hdr: make([]byte, 5), data: make([]byte, n-5)} }

func TestOutboxBlocksWhenFullByCountOrBytes(t *testing.T) {
	for _, tt := range []struct {
		name  string
		lim   limits
		sizes []int // queued first
		next  int   // must wait
	}{
		{"the frame limit holds small frames back", limits{frames: 2, bytes: 1 << 20}, []int{10, 10}, 10},
		{"the byte limit holds big frames back", limits{frames: 100, bytes: 100}, []int{60}, 60},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o := newOutbox(tt.lim)
			for _, n := range tt.sizes {
				if err := o.put(context.Background(), frameOf(n)); err != nil {
					t.Fatal(err)
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			defer cancel()
			if err := o.put(ctx, frameOf(tt.next)); !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("put on a full outbox = %v, want it to wait", err)
			}
			done := make(chan error, 1)
			go func() { done <- o.put(context.Background(), frameOf(tt.next)) }()
			if _, ok := o.pop(); !ok {
				t.Fatal("pop found nothing")
			}
			if err := <-done; err != nil {
				t.Fatalf("put after pop: %v", err)
			}
			if _, _, pf, pb := o.stats(); pf > tt.lim.frames || pb > tt.lim.bytes {
				t.Fatalf("peak %d frames %d bytes over %+v", pf, pb, tt.lim)
			}
		})
	}
}

func TestOutboxAcceptsAnOversizedFrameWhenEmpty(t *testing.T) {
	o := newOutbox(limits{frames: 4, bytes: 10})
	if err := o.put(context.Background(), frameOf(100)); err != nil {
		t.Fatal(err)
	}
}

func TestOutboxCloseWakesWaitersAndDropsFrames(t *testing.T) {
	o := newOutbox(limits{frames: 1, bytes: 1 << 20})
	o.put(context.Background(), frameOf(10))
	done := make(chan error, 1)
	go func() { done <- o.put(context.Background(), frameOf(10)) }()
	o.close()
	if err := <-done; !errors.Is(err, errBoxClosed) {
		t.Fatalf("waiting put = %v", err)
	}
	if _, ok := o.pop(); ok {
		t.Error("a closed outbox still yields frames")
	}
	if f, b, _, _ := o.stats(); f != 0 || b != 0 {
		t.Errorf("closed outbox holds %d frames, %d bytes", f, b)
	}
}

func TestOutboxForceHasBoundedSlack(t *testing.T) {
	o := newOutbox(limits{frames: 2, bytes: 1 << 20})
	for i := range 4 {
		if err := o.force(frameOf(10)); err != nil {
			t.Fatalf("notice %d: %v", i, err)
		}
	}
	if err := o.force(frameOf(10)); !errors.Is(err, errOverflow) {
		t.Fatalf("force beyond twice the limit = %v", err)
	}
}

func TestOutboxKeepsOrderAcrossManyFrames(t *testing.T) {
	o := newOutbox(limits{frames: 8, bytes: 1 << 20})
	go func() {
		for i := range 1000 {
			o.put(context.Background(), outFrame{hdr: []byte{byte(i), byte(i >> 8)}})
		}
	}()
	for i := 0; i < 1000; {
		<-o.ready
		for {
			f, ok := o.pop()
			if !ok {
				break
			}
			if got := int(f.hdr[0]) | int(f.hdr[1])<<8; got != i {
				t.Fatalf("frame %d came as %d", got, i)
			}
			i++
		}
	}
}
