package tree

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/peerlink/peerlink/wire"
)

func TestOpenReadRefusesNonFiles(t *testing.T) {
	tr, dir := openTree(t)
	writeFile(t, filepath.Join(dir, "f"), "content")
	os.Mkdir(filepath.Join(dir, "d"), 0o755)
	nonFiles := []string{"d", "link"}
	if mkfifo(t, filepath.Join(dir, "fifo")) {
		nonFiles = append(nonFiles, "fifo")
	}
	os.Symlink("f", filepath.Join(dir, "link"))
	for _, p := range nonFiles {
		if f, err := tr.OpenRead(p); !isKind(err, wire.KindInvalid) {
			if f != nil {
				f.Close()
			}
			t.Errorf("OpenRead(%q): %v, want KindInvalid", p, err)
		}
	}
	if _, err := tr.OpenRead("missing"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("OpenRead of a missing file: %v", err)
	}
	f, err := tr.OpenRead("f")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b, _ := io.ReadAll(f)
	info, err := Stat(f)
	if string(b) != "content" || err != nil || info.Size != 7 || info.Kind != wire.KindFile {
		t.Errorf("read %q, stat %+v %v", b, info, err)
	}
}

func TestDirWalk(t *testing.T) {
	tr, dir := openTree(t)
	writeFile(t, filepath.Join(dir, "sub/f"), "x")
	os.Mkdir(filepath.Join(dir, "sub/inner"), 0o755)
	os.Symlink("/", filepath.Join(dir, "sub/link"))
	writeFile(t, filepath.Join(dir, "sub", TempPrefix+"1"), "t")
	d, err := tr.OpenDir("sub")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ents, err := d.Entries()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]fs.FileMode{}
	for _, e := range ents {
		got[e.Name] = e.Type
	}
	want := map[string]fs.FileMode{"f": 0, "inner": fs.ModeDir, "link": fs.ModeSymlink, TempPrefix + "1": 0}
	if len(got) != len(want) {
		t.Fatalf("entries %v, want %v", got, want)
	}
	for n, ty := range want {
		if got[n] != ty {
			t.Errorf("%s: type %v, want %v", n, got[n], ty)
		}
	}
	if _, err := d.OpenDir("link"); err == nil {
		t.Error("Dir.OpenDir followed a symlink")
	}
	in, err := d.OpenDir("inner")
	if err != nil || in.Path() != "sub/inner" {
		t.Fatalf("inner: %v", err)
	}
	in.Close()
	if err := d.RemoveTemp("f"); err == nil {
		t.Error("RemoveTemp removed a user's file")
	}
	if err := d.RemoveTemp(TempPrefix + "1"); err != nil {
		t.Fatal(err)
	}
	if left := temps(t, dir); len(left) != 0 {
		t.Errorf("temp left: %v", left)
	}
	root, err := tr.OpenDir("")
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	if ents, err := root.Entries(); err != nil || len(ents) != 1 || ents[0].Name != "sub" {
		t.Errorf("root entries %v %v", ents, err)
	}
}
