//go:build linux

package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/peerlink/peerlink/testkit/wanlink"
)

// The goals for an edit of a large file.
const (
	goalOverwriteBytes = 100_000
	goalInsertBytes    = 200_000
	insertSize         = 1 << 10
	// editTemp is where the insert is written before the rename: a name
	// of the shape Microsoft Office gives its temp files ("~*.tmp"),
	// which the agents leave alone, as they would an editor's.
	editTemp = "~big.tmp"
)

// wanEdit measures the two edits of a large file held by site-a and
// site-b (and by rsync's module) with a session running.
func (b *bench) wanEdit(ctx context.Context, shape wanlink.Shape, d *rsyncd) []wanRow {
	sz := b.o.wan.big
	over := wanRow{what: fmt.Sprintf("one byte overwritten in place in a %s file, one target", size(sz)),
		goal: wanGoal{maxBytes: goalOverwriteBytes, timeVsRsync: true, text: "≤ 100 KB on the wire, time ≤ rsync's"}, rsWhat: "rsync -a"}
	ins := wanRow{what: fmt.Sprintf("1 KiB inserted in the middle of a %s file, saved by rename (temp written, renamed over)", size(sz)),
		goal: wanGoal{maxBytes: goalInsertBytes, timeVsRsync: true, text: "≤ 200 KB on the wire, time ≤ rsync's"}, rsWhat: "rsync -a"}
	fail := func(err error) []wanRow {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		b.logf("wan-edit: %v", err)
		if over.err == nil && over.took == 0 {
			over.err = err
		}
		ins.err = err
		return []wanRow{over, ins}
	}
	base := filepath.Join(b.tmp, "wan", "edit")
	src, dst := filepath.Join(base, siteA), filepath.Join(base, siteB)
	b.logf("wan-edit: writing a %s file on %s, copying it to %s and rsync's module", size(sz), siteA, siteB)
	if err := generate(ctx, src, treeSpec{files: 1, size: sz}); err != nil {
		return fail(err)
	}
	big := filepath.Join(src, "big.bin")
	copies := []string{dst}
	if d != nil {
		copies = append(copies, filepath.Join(d.root, "edit"))
	}
	for _, to := range copies {
		if err := os.MkdirAll(to, 0o755); err != nil {
			return fail(err)
		}
		if out, err := exec.CommandContext(ctx, "cp", "-p", big, to).CombinedOutput(); err != nil {
			return fail(fmt.Errorf("cp -p: %v: %s", err, out))
		}
	}
	written := time.Now()
	c, err := startCluster(ctx, b.o.bin, filepath.Join(base, "state"), b.o.logLevel, b.o.profile, &shape, siteA, siteB)
	if err != nil {
		return fail(err)
	}
	defer c.stop()
	if _, err := c.cli(ctx, "session", "create", "wan-edit", "--host", siteA+"="+src, "--host", siteB+"="+dst); err != nil {
		return fail(err)
	}
	// The copies stand longer than the scan's racy window, so that the
	// agents know them from their scan cache, as on a real server.
	if !pause(ctx, time.Until(written.Add(liveSettled))) {
		return fail(ctx.Err())
	}
	b.logf("wan-edit: session start --wait (both copies hashed, nothing to copy)")
	if _, err := c.cli(ctx, "session", "start", "wan-edit", "--wait"); err != nil {
		return fail(fmt.Errorf("%w\n%s", err, c.logs(15)))
	}
	w, err := watchDirs(dst)
	if err != nil {
		return fail(err)
	}
	defer w.Close()
	e := &editRun{b: b, c: c, w: w, d: d, src: src, target: filepath.Join(dst, "big.bin")}

	// One byte overwritten in place, in the middle.
	mid := sz / 2
	old, err := bytesAt(big, mid, 1)
	if err != nil {
		return fail(err)
	}
	change := []byte{^old[0]}
	over = e.measure(ctx, over, func() error {
		f, err := os.OpenFile(big, os.O_WRONLY, 0)
		if err != nil {
			return err
		}
		_, werr := f.WriteAt(change, mid)
		if err := f.Close(); werr == nil {
			werr = err
		}
		return werr
	}, sz, mid, change)
	if ctx.Err() != nil {
		return fail(ctx.Err())
	}

	// 1 KiB inserted in the middle: the new version written to a temp
	// file beside it (untimed), then renamed over it (the clock starts).
	insert := make([]byte, insertSize)
	for i := range insert {
		insert[i] = byte(rand.Uint32())
	}
	tmp := filepath.Join(src, editTemp)
	if err := writeInserted(big, tmp, mid, insert); err != nil {
		return fail(err)
	}
	ins = e.measure(ctx, ins, func() error { return os.Rename(tmp, big) }, sz+insertSize, mid, insert)
	return []wanRow{over, ins}
}

type editRun struct {
	b      *bench
	c      *cluster
	w      *dirWatch
	d      *rsyncd
	src    string // site-a's root
	target string // site-b's copy
}

// measure times edit on site-a until site-b's copy has newSize bytes and
// want at off, then, once its lock is released, reads what crossed the
// links; then it pushes the same change with rsync onto its old copy.
func (e *editRun) measure(ctx context.Context, r wanRow, edit func() error, newSize, off int64, want []byte) wanRow {
	before := statCopy(e.target)
	mode := before.mode
	w0 := e.c.wireBytes()
	e.b.logf("wan-edit: %s (load average %s)", r.what, loadAverage())
	start := time.Now()
	if err := edit(); err != nil {
		r.err = err
		return r
	}
	at, ok := e.w.until(start.Add(e.b.o.wan.timeout), func() bool {
		s := statCopy(e.target)
		if !s.exists || s.size != newSize || s.sig[0] == before.sig[0] {
			return false
		}
		got, err := bytesAt(e.target, off, len(want))
		return err == nil && bytes.Equal(got, want)
	})
	if !ok {
		r.err = fmt.Errorf("%s did not hold the new content within %s\n%s", siteB, e.b.o.wan.timeout, e.c.logs(15))
		return r
	}
	r.took = at.Sub(start)
	// What a propagation costs ends with the release of the target's lock.
	e.w.until(time.Now().Add(liveSampleTimeout), func() bool { return statCopy(e.target).released(mode) })
	r.link, r.up, r.down = e.c.wireBytes().since(w0).busiest()
	e.b.logf("wan-edit: peerlink %s, %s on %s's link (%s up, %s down)", dur(r.took), size(r.up+r.down), r.link, size(r.up), size(r.down))
	if e.b.o.verify {
		if err := sameContent(filepath.Join(e.src, "big.bin"), e.target); err != nil {
			r.err = err
			return r
		}
	}
	if e.d != nil && ctx.Err() == nil {
		rr, err := e.d.push(ctx, e.src, "edit", "-a", "--exclude", editTemp)
		if err != nil {
			r.err = err
			return r
		}
		r.rsync = &rr
		e.b.logf("wan-edit: rsync %s, %s on its link (--stats: %s sent, %s received)", dur(rr.took), size(rr.up+rr.down), size(rr.statSent), size(rr.statRecvd))
		if e.b.o.verify {
			if err := sameContent(filepath.Join(e.src, "big.bin"), filepath.Join(e.d.root, "edit", "big.bin")); err != nil {
				r.err = fmt.Errorf("rsync's copy: %w", err)
			}
		}
	}
	return r
}

// bytesAt reads n bytes of p at off.
func bytesAt(p string, off int64, n int) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b := make([]byte, n)
	_, err = f.ReadAt(b, off)
	return b, err
}

// writeInserted writes to tmp the content of p with insert inserted at
// off, and makes it durable, as an editor saving a file does.
func writeInserted(p, tmp string, off int64, insert []byte) error {
	in, err := os.Open(p)
	if err != nil {
		return err
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return err
	}
	out, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, fi.Mode().Perm())
	if err != nil {
		return err
	}
	_, err = io.Copy(out, io.NewSectionReader(in, 0, off))
	if err == nil {
		_, err = out.Write(insert)
	}
	if err == nil {
		_, err = io.Copy(out, io.NewSectionReader(in, off, fi.Size()-off))
	}
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	return nil
}
