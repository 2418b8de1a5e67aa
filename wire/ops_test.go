package wire

import "testing"

func TestOpValidate(t *testing.T) {
	have := fileEntry("docs/a.txt")
	have.Size = 3
	folderWithSize := dirEntry("docs/a.txt")
	folderWithSize.Size = 1
	modeWithType := fileEntry("docs/a.txt")
	modeWithType.Mode |= 1 << 31
	badHave := dirEntry("docs/a.txt")
	badHave.Hash = helloHash

	tests := []struct {
		name    string
		op      Op
		wantErr string
		badPath string // when set, the error is a *PathError naming it
	}{
		{"a fetch of a file from a host is valid", Op{Kind: OpFetch, Path: "docs/a.txt", From: "site-a", Want: fileEntry("docs/a.txt")}, "", ""},
		{"a fetch over a known copy is valid", Op{Kind: OpFetch, Path: "docs/a.txt", From: "site-a", Want: fileEntry("docs/a.txt"), Have: &have}, "", ""},
		{"a mkdir of a folder is valid", Op{Kind: OpMkdir, Path: "docs", Want: dirEntry("docs")}, "", ""},
		{"a meta of a file is valid", Op{Kind: OpMeta, Path: "docs/a.txt", Want: fileEntry("docs/a.txt"), Have: &have}, "", ""},
		{"a meta of a folder is valid", Op{Kind: OpMeta, Path: "docs", Want: dirEntry("docs")}, "", ""},
		{"a delete needs no wanted entry", Op{Kind: OpDelete, Path: "docs/a.txt"}, "", ""},
		{"a delete of a known copy is valid", Op{Kind: OpDelete, Path: "docs/a.txt", Have: &have}, "", ""},
		{"a rename is valid", Op{Kind: OpRename, Path: "docs/b.txt", OldPath: "docs/a.txt", Want: fileEntry("docs/b.txt")}, "", ""},

		{"an op on an escaping path is refused", Op{Kind: OpDelete, Path: "../a"}, `".." element`, "../a"},
		{"an op on an empty path is refused", Op{Kind: OpMkdir, Want: dirEntry("d")}, "empty", ""},
		{"a zero op is refused", Op{Kind: 0, Path: "a"}, "a: unknown op 0", ""},
		{"an unknown op is refused", Op{Kind: 9, Path: "a"}, "a: unknown op 9", ""},
		{"a fetch without a source host is refused", Op{Kind: OpFetch, Path: "docs/a.txt", Want: fileEntry("docs/a.txt")}, `fetch docs/a.txt: host name ""`, ""},
		{"a fetch from a path-like host is refused", Op{Kind: OpFetch, Path: "docs/a.txt", From: "../site-a", Want: fileEntry("docs/a.txt")}, `fetch docs/a.txt: host name "../site-a"`, ""},
		{"a fetch of a folder is refused", Op{Kind: OpFetch, Path: "docs", From: "site-a", Want: dirEntry("docs")}, "fetch docs: wants a file", ""},
		{"a fetch without a wanted entry is refused", Op{Kind: OpFetch, Path: "docs", From: "site-a"}, "fetch docs: wants a file", ""},
		{"a mkdir of a file is refused", Op{Kind: OpMkdir, Path: "docs", Want: fileEntry("docs")}, "mkdir docs: wants a folder", ""},
		{"a rename from an escaping path is refused", Op{Kind: OpRename, Path: "b", OldPath: "../a", Want: fileEntry("b")}, "rename to b", "../a"},
		{"a rename without an old path is refused", Op{Kind: OpRename, Path: "b", Want: fileEntry("b")}, "rename to b", ""},
		{"a wanted entry naming another path is refused", Op{Kind: OpMeta, Path: "docs/a.txt", Want: fileEntry("docs/b.txt")}, `meta docs/a.txt: wanted entry names "docs/b.txt"`, ""},
		{"a meta without a wanted entry is refused", Op{Kind: OpMeta, Path: "docs/a.txt"}, `meta docs/a.txt: wanted entry names ""`, ""},
		{"a rename wanting the old path is refused", Op{Kind: OpRename, Path: "b", OldPath: "a", Want: fileEntry("a")}, `rename b: wanted entry names "a"`, ""},
		{"a wanted folder with a size is refused", Op{Kind: OpMeta, Path: "docs/a.txt", Want: folderWithSize}, "a folder has no size or hash", ""},
		{"a wanted mode with type bits is refused", Op{Kind: OpFetch, Path: "docs/a.txt", From: "site-a", Want: modeWithType}, "beyond the permission bits", ""},
		{"a known copy that is invalid is refused", Op{Kind: OpDelete, Path: "docs/a.txt", Have: &badHave}, "a folder has no size or hash", ""},
		{"a known copy on an escaping path is refused", Op{Kind: OpDelete, Path: "a", Have: &Entry{Path: "/etc/passwd", Kind: KindFile}}, "absolute", "/etc/passwd"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.op.Validate()
			checkErr(t, err, tt.wantErr)
			if tt.badPath != "" {
				checkPathErr(t, err, tt.badPath)
			}
		})
	}
}

func TestOpKindString(t *testing.T) {
	for k, want := range map[OpKind]string{OpFetch: "fetch", OpMkdir: "mkdir", OpMeta: "meta", OpDelete: "delete", OpRename: "rename", 0: "op(0)", 42: "op(42)"} {
		if got := k.String(); got != want {
			t.Errorf("OpKind(%d) = %q, want %q", k, got, want)
		}
	}
	for k, want := range map[EntryKind]string{KindFile: "file", KindDir: "dir", 0: "entrykind(0)"} {
		if got := k.String(); got != want {
			t.Errorf("EntryKind(%d) = %q, want %q", k, got, want)
		}
	}
}
