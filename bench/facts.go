//go:build linux

package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"golang.org/x/sys/unix"
)

// facts describes the machine a run measured.
type facts struct {
	CPUs       int
	CPUModel   string
	Memory     string
	Kernel     string
	GoVersion  string
	FileSystem string // type, device and mount point of the bench's folder
}

func machineFacts(dir string) facts {
	f := facts{CPUs: runtime.NumCPU(), GoVersion: runtime.Version()}
	f.CPUModel = firstField("/proc/cpuinfo", "model name")
	if kb := firstField("/proc/meminfo", "MemTotal"); kb != "" {
		var n int64
		fmt.Sscanf(kb, "%d", &n)
		f.Memory = size(n * 1024)
	}
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		f.Kernel = unix.ByteSliceToString(u.Sysname[:]) + " " + unix.ByteSliceToString(u.Release[:]) + " " + unix.ByteSliceToString(u.Machine[:])
	}
	f.FileSystem = fileSystem(dir)
	return f
}

// firstField returns the value of the first "key: value" line of file.
func firstField(file, key string) string {
	fh, err := os.Open(file)
	if err != nil {
		return ""
	}
	defer fh.Close()
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// fileSystem names the file system dir is on, from /proc/self/mountinfo:
// the mount whose point is the longest prefix of dir.
func fileSystem(dir string) string {
	dir, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return "unknown"
	}
	fh, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return "unknown"
	}
	defer fh.Close()
	best, desc := "", "unknown"
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		// id parent major:minor root mountpoint options... - fstype source superoptions
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		if !ok {
			continue
		}
		a, b := strings.Fields(pre), strings.Fields(post)
		if len(a) < 5 || len(b) < 2 {
			continue
		}
		mp := a[4]
		if (dir == mp || strings.HasPrefix(dir, strings.TrimSuffix(mp, "/")+"/")) && len(mp) >= len(best) {
			best = mp
			desc = fmt.Sprintf("%s on %s, mounted at %s (%s)", b[0], b[1], mp, a[5])
		}
	}
	return desc
}

// loadAverage returns the 1-minute load average, to show how busy the
// machine was while it was measured.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return "?"
	}
	return f[0]
}

// removeAll removes a tree, making folders writable first if need be.
func removeAll(dir string) error {
	if err := os.RemoveAll(dir); err == nil {
		return nil
	}
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			os.Chmod(p, 0o755)
		}
		return nil
	})
	return os.RemoveAll(dir)
}
