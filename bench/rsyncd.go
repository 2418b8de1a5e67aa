//go:build linux

package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/peerlink/peerlink/testkit/wanlink"
)

// rsyncd is the WAN rows' comparator: an rsync daemon on 127.0.0.1 with
// one writable module, reached by the rsync client through an emulated
// link of its own with the agents' shape, so that rsync crosses the same
// kind of link as each agent does and the same counters measure both.
type rsyncd struct {
	rsync string // the rsync binary
	root  string // the module's folder
	cmd   *exec.Cmd
	done  chan struct{}
	link  *wanlink.Link
}

const rsyncModule = "bench"

// startRsyncd starts the daemon with its state under dir, and its link.
func startRsyncd(ctx context.Context, rsync, dir string, shape wanlink.Shape) (*rsyncd, error) {
	d := &rsyncd{rsync: rsync, root: filepath.Join(dir, "module"), done: make(chan struct{})}
	if err := os.MkdirAll(d.root, 0o755); err != nil {
		return nil, err
	}
	// The bench runs as root: without uid/gid the daemon would drop to
	// nobody and could not write the module; no chroot, so no
	// privileges are needed for it either.
	conf := filepath.Join(dir, "rsyncd.conf")
	text := fmt.Sprintf("use chroot = no\nuid = %d\ngid = %d\n[%s]\npath = %s\nread only = no\n", os.Getuid(), os.Getgid(), rsyncModule, d.root)
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	d.cmd = exec.Command(rsync, "--daemon", "--no-detach", "--config="+conf, "--port="+strconv.Itoa(port), "--address=127.0.0.1",
		"--log-file="+filepath.Join(dir, "rsyncd.log"))
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	var out bytes.Buffer
	d.cmd.Stdout, d.cmd.Stderr = &out, &out
	if err := d.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start rsync --daemon: %w", err)
	}
	go func() { d.cmd.Wait(); close(d.done) }()
	for deadline := time.Now().Add(10 * time.Second); ; {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			break
		}
		select {
		case <-d.done:
			return nil, fmt.Errorf("rsync --daemon exited: %s", out.String())
		case <-ctx.Done():
			d.stop()
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			d.stop()
			return nil, fmt.Errorf("rsync --daemon did not listen on %s within 10 s", addr)
		}
	}
	if d.link, err = wanlink.Start(addr, shape); err != nil {
		d.stop()
		return nil, err
	}
	return d, nil
}

func (d *rsyncd) stop() {
	if d.link != nil {
		d.link.Close()
	}
	select {
	case <-d.done:
	default:
		d.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-d.done:
		case <-time.After(10 * time.Second):
			d.cmd.Process.Kill()
			<-d.done
		}
	}
}

// rsyncRun is one rsync through the link: its wall time, what crossed the
// link, and what rsync's --stats says it sent and received.
type rsyncRun struct {
	took                time.Duration
	up, down            int64
	statSent, statRecvd int64
}

// push runs `rsync FLAGS --stats SRC/ rsync://LINK/bench/DST/`: SRC's
// content into the module's folder DST, through the link.
func (d *rsyncd) push(ctx context.Context, src, dst string, flags ...string) (rsyncRun, error) {
	var r rsyncRun
	if err := os.MkdirAll(filepath.Join(d.root, dst), 0o755); err != nil {
		return r, err
	}
	url := fmt.Sprintf("rsync://%s/%s/%s/", d.link.Addr(), rsyncModule, dst)
	args := append(append([]string{}, flags...), "--stats", strings.TrimSuffix(src, "/")+"/", url)
	up0, down0 := d.link.Bytes()
	syscall.Sync()
	start := time.Now()
	out, err := exec.CommandContext(ctx, d.rsync, args...).CombinedOutput()
	r.took = time.Since(start)
	if err != nil {
		return r, fmt.Errorf("rsync %s: %v: %s", strings.Join(args, " "), err, out)
	}
	up1, down1 := d.link.Bytes()
	r.up, r.down = up1-up0, down1-down0
	r.statSent, r.statRecvd = rsyncStat(out, "Total bytes sent"), rsyncStat(out, "Total bytes received")
	return r, nil
}

// rsyncStat reads one "Name: 1,234" line of rsync's --stats.
func rsyncStat(out []byte, name string) int64 {
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + `: ([\d,]+)`).FindSubmatch(out)
	if m == nil {
		return -1
	}
	n, _ := strconv.ParseInt(strings.ReplaceAll(string(m[1]), ",", ""), 10, 64)
	return n
}
