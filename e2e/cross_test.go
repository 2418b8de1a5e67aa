package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// crossPlatforms are the systems peerlink must build on besides the one
// the tests run on: the agent's portable fallbacks (sync/tree, sync/watch,
// sync/lock) exist for them, and nothing else would notice a Linux-only
// call slipping into a shared file. `make cross` builds their binaries.
var crossPlatforms = []struct{ goos, goarch string }{
	{"windows", "amd64"},
	{"darwin", "arm64"},
}

// TestCrossPlatformBuild type-checks the whole module, tests included, for
// each of crossPlatforms: `go vet ./...` with GOOS and GOARCH set compiles
// every package (no linking) and vets it. The first run compiles the
// standard library for each platform, which takes minutes; later runs use
// the build cache.
func TestCrossPlatformBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("cross-platform builds are not short")
	}
	gobin := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(gobin); err != nil {
		if gobin, err = exec.LookPath("go"); err != nil {
			t.Skip("no go command to build with")
		}
	}
	for _, p := range crossPlatforms {
		t.Run(p.goos+"/"+p.goarch, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(gobin, "vet", "./...")
			cmd.Dir = ".." // the module's root, from this package's folder
			cmd.Env = append(os.Environ(), "GOOS="+p.goos, "GOARCH="+p.goarch, "CGO_ENABLED=0")
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("GOOS=%s GOARCH=%s go vet ./...: %v\n%s", p.goos, p.goarch, err, out)
			}
		})
	}
}
