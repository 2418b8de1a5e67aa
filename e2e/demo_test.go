//go:build linux

package e2e

import (
	"bufio"
	"context"
	"fmt"
	"github.com/peerlink/peerlink/testkit/ports"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// startDemo runs `peerlink demo` on dir/peerlink-demo and returns the
// commands its banner prints and the demo's process; the test's end stops
// it with SIGINT.
func startDemo(t *testing.T, dir string) ([]string, *exec.Cmd) {
	t.Helper()
	api, brk := ports.Free(t), ports.Free(t)
	cmd := exec.Command(binary, "demo", "--dir", filepath.Join(dir, "peerlink-demo"),
		"--listen", fmt.Sprintf("127.0.0.1:%d", api), "--broker-listen", fmt.Sprintf("127.0.0.1:%d", brk))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	banner := make(chan []string, 1)
	go func() {
		defer close(done)
		var lines []string
		in := false
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			l := sc.Text()
			switch {
			case strings.HasPrefix(l, "Try, in another terminal:"):
				in = true
			case strings.HasPrefix(l, "Press Ctrl-C"):
				if in {
					banner <- lines
				}
				in = false
			case in:
				lines = append(lines, strings.TrimSpace(l))
			}
		}
		_ = cmd.Wait()
	}()
	select {
	case lines := <-banner:
		return lines, cmd
	case <-time.After(60 * time.Second):
		t.Fatal("the demo printed no banner within a minute")
	}
	return nil, nil
}

// Every command the demo's banner prints runs as printed (issue 15, item
// 3), in a shell whose PATH is the system's, without the folder of the
// binary (make demo leaves it in bin/, which is on no PATH), and the file
// the banner writes on site-a reaches site-b without a restart of the
// session.
func TestDemoBannerCommandsRunAsPrinted(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	lines, _ := startDemo(t, dir)
	if len(lines) < 4 {
		t.Fatalf("banner commands: %q", lines)
	}
	for _, l := range lines {
		if strings.HasPrefix(l, "peerlink ") {
			t.Errorf("banner command %q names peerlink, which is on no PATH after make demo", l)
		}
	}

	script := strings.Join(lines, "\n")
	sh := exec.CommandContext(context.Background(), "bash", "-e", "-c", script)
	sh.Env = []string{"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=" + dir}
	sh.Dir = dir
	res, err := sh.CombinedOutput()
	if err != nil {
		t.Fatalf("the banner's commands, run as printed:\n%s\nfailed: %v\n%s", script, err, res)
	}
	if !strings.Contains(string(res), "session demo") {
		t.Errorf("the banner's commands printed no session status:\n%s", res)
	}
	waitFor(t, 30*time.Second, "hello.txt on site-b", func() bool {
		b, err := os.ReadFile(filepath.Join(dir, "peerlink-demo", "site-b", "hello.txt"))
		return err == nil && string(b) == "hello\n"
	})
}

// make clean works whatever state the demo was left in (issue 15, item 1):
// the demo killed (SIGKILL, no clean stop) while a file on site-a is open
// for writing, so site-b's copy stays locked (immutable, as root), and
// make clean still removes every folder the demo made.
func TestMakeCleanAfterAKilledDemo(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("no make")
	}
	dir := t.TempDir()
	_, cmd := startDemo(t, dir)
	demo := filepath.Join(dir, "peerlink-demo")
	f, err := os.OpenFile(filepath.Join(demo, "site-a", "README.txt"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	copyB := filepath.Join(demo, "site-b", "README.txt")
	waitFor(t, 30*time.Second, "site-b's copy locked", func() bool {
		fi, err := os.Stat(copyB)
		return err == nil && fi.Mode().Perm()&0o222 == 0
	})
	// SIGKILL: nothing of the demo runs after it, so the lock stays.
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	makefile, err := filepath.Abs(filepath.Join("..", "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	mk := exec.Command("make", "-f", makefile, "-C", dir, "clean")
	if out, err := mk.CombinedOutput(); err != nil {
		t.Fatalf("make clean after a killed demo: %v\n%s", err, out)
	}
	if _, err := os.Stat(demo); err == nil {
		t.Errorf("make clean left %s", demo)
	}
}
