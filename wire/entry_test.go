package wire

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"strings"
	"testing"
)

var helloHash = Hash(sha256.Sum256([]byte("hello\n")))

func fileEntry(p string) Entry {
	return Entry{Path: p, Kind: KindFile, Size: 6, Mtime: 1_700_000_000_123_456_789, Mode: 0o644, Hash: helloHash}
}

func dirEntry(p string) Entry {
	return Entry{Path: p, Kind: KindDir, Mtime: 1_700_000_000_000_000_000, Mode: 0o755}
}

func TestEntryValidate(t *testing.T) {
	tests := []struct {
		name    string
		entry   Entry
		wantErr string
		badPath bool // the error is a *PathError for entry.Path
	}{
		{"a file is valid", fileEntry("docs/plan.docx"), "", false},
		{"an empty file is valid", Entry{Path: "e", Kind: KindFile, Hash: Hash(sha256.Sum256(nil))}, "", false},
		{"a file of unknown hash is valid", Entry{Path: "f", Kind: KindFile, Size: 10}, "", false},
		{"a folder is valid", dirEntry("docs"), "", false},
		{"a file with every permission bit is valid", Entry{Path: "x", Kind: KindFile, Mode: 0o777}, "", false},

		{"an empty path is refused", Entry{Kind: KindFile}, "empty", true},
		{"an escaping path is refused", fileEntry("../etc/passwd"), `".." element`, true},
		{"an absolute path is refused", dirEntry("/etc"), "absolute", true},
		{"a negative size is refused", Entry{Path: "f", Kind: KindFile, Size: -1}, "f: negative size -1", false},
		{"a folder with a size is refused", Entry{Path: "d", Kind: KindDir, Size: 4096}, "d: a folder has no size or hash", false},
		{"a folder with a hash is refused", Entry{Path: "d", Kind: KindDir, Hash: helloHash}, "d: a folder has no size or hash", false},
		{"a zero kind is refused", Entry{Path: "z", Kind: 0}, "z: unknown kind 0", false},
		{"an unknown kind is refused", Entry{Path: "z", Kind: 3}, "z: unknown kind 3", false},
		{"a mode with the folder type bit is refused", Entry{Path: "d", Kind: KindDir, Mode: uint32(fs.ModeDir | 0o755)}, "beyond the permission bits", false},
		{"a mode with the symlink type bit is refused", Entry{Path: "l", Kind: KindFile, Mode: uint32(fs.ModeSymlink | 0o777)}, "beyond the permission bits", false},
		{"a Unix setuid mode is refused", Entry{Path: "s", Kind: KindFile, Mode: 0o4755}, "mode 4755 has bits beyond", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.entry.Validate()
			checkErr(t, err, tt.wantErr)
			if tt.badPath {
				checkPathErr(t, err, tt.entry.Path)
			}
		})
	}
}

func TestEntrySameContent(t *testing.T) {
	other := fileEntry("b")
	other.Hash[0] ^= 1
	tests := []struct {
		name string
		a, b Entry
		same bool
	}{
		{"files of equal size and hash are the same whatever their mtime and mode", fileEntry("a"), Entry{Path: "b", Kind: KindFile, Size: 6, Hash: helloHash, Mode: 0o600}, true},
		{"files of different hash differ", fileEntry("a"), other, false},
		{"files of different size differ", fileEntry("a"), Entry{Path: "a", Kind: KindFile, Size: 7, Hash: helloHash}, false},
		{"two folders are the same", dirEntry("a"), dirEntry("b"), true},
		{"a file and a folder differ", fileEntry("a"), dirEntry("a"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.a.SameContent(tt.b); got != tt.same {
				t.Errorf("SameContent = %v, want %v", got, tt.same)
			}
			if got := tt.b.SameContent(tt.a); got != tt.same {
				t.Errorf("SameContent reversed = %v, want %v", got, tt.same)
			}
		})
	}
}

// TestEntryJSON pins the encoding of an entry: peers of other versions
// read it, so a change here is a protocol change.
func TestEntryJSON(t *testing.T) {
	tests := []struct {
		name  string
		entry Entry
		want  string
	}{
		{"a folder omits its size and zero hash", dirEntry("docs"), `{"p":"docs","k":2,"m":1700000000000000000,"o":493}`},
		{"a file carries its hash as hex", fileEntry("a"), `{"p":"a","k":1,"s":6,"m":1700000000123456789,"o":420,"h":"` + helloHash.String() + `"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := json.Marshal(tt.entry)
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tt.want {
				t.Fatalf("encoded %s\nwant    %s", b, tt.want)
			}
			var got Entry
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatal(err)
			}
			if got != tt.entry {
				t.Fatalf("decoded %+v, want %+v", got, tt.entry)
			}
		})
	}
}

func TestHashText(t *testing.T) {
	b, err := helloHash.MarshalText()
	if err != nil {
		t.Fatal(err)
	}
	if want := hex.EncodeToString(helloHash[:]); string(b) != want || helloHash.String() != want {
		t.Fatalf("MarshalText = %s, String = %s, want %s", b, helloHash, want)
	}
	var got Hash
	if err := got.UnmarshalText(b); err != nil {
		t.Fatal(err)
	}
	if got != helloHash {
		t.Fatalf("round trip gave %s, want %s", got, helloHash)
	}
	if helloHash.IsZero() || !(Hash{}).IsZero() {
		t.Fatal("IsZero is wrong")
	}

	tests := []struct {
		name    string
		text    string
		wantErr string
	}{
		{"uppercase hex is accepted", strings.ToUpper(helloHash.String()), ""},
		{"the zero hash is accepted", strings.Repeat("0", 64), ""},
		{"empty text is refused", "", "want 64 hex digits, got 0"},
		{"one digit short is refused", helloHash.String()[:63], "want 64 hex digits, got 63"},
		{"one byte too many is refused", helloHash.String() + "00", "want 64 hex digits, got 66"},
		{"a non-hex digit is refused", "g" + helloHash.String()[1:], "invalid byte"},
		{"a space is refused", " " + helloHash.String()[1:], "invalid byte"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h Hash
			checkErr(t, h.UnmarshalText([]byte(tt.text)), tt.wantErr)
			if tt.wantErr == "" && h.String() != strings.ToLower(tt.text) {
				t.Fatalf("decoded %s from %s", h, tt.text)
			}
		})
	}
}

// FuzzHashText checks that text decoding accepts exactly 64 hex digits and
// that any hash survives a text round trip.
func FuzzHashText(f *testing.F) {
	f.Add([]byte(helloHash.String()))
	f.Add([]byte(strings.ToUpper(helloHash.String())))
	f.Add([]byte(strings.Repeat("0", 64)))
	f.Add([]byte(""))
	f.Add([]byte("zz" + helloHash.String()[2:]))
	f.Fuzz(func(t *testing.T, b []byte) {
		var h Hash
		err := h.UnmarshalText(b)
		valid := len(b) == 2*HashSize && isHex(b)
		if (err == nil) != valid {
			t.Fatalf("UnmarshalText(%q) = %v, but valid = %v", b, err, valid)
		}
		if err == nil {
			text, err := h.MarshalText()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(text, bytes.ToLower(b)) {
				t.Fatalf("re-encoded %q as %q", b, text)
			}
		}

		// Any 32 bytes are a hash that survives a round trip.
		var raw Hash
		copy(raw[:], b)
		text, err := raw.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		var back Hash
		if err := back.UnmarshalText(text); err != nil || back != raw {
			t.Fatalf("round trip of %x gave %x, %v", raw, back, err)
		}
	})
}

func isHex(b []byte) bool {
	for _, c := range b {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}
