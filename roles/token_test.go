package roles

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"
)

func TestReadTokenFile(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name    string
		content string
		mode    os.FileMode
		token   string // when no error
		err     string // part of the error, when one is wanted
		warned  bool
	}{
		{name: "the first line, spaces trimmed", content: "  s3cret \r\nnext line\n", mode: 0o600, token: "s3cret"},
		{name: "no newline at the end", content: "s3cret", mode: 0o600, token: "s3cret"},
		{name: "a file others may read works, with a warning", content: "s3cret\n", mode: 0o644, token: "s3cret", warned: true},
		{name: "an empty file is refused", content: "", mode: 0o600, err: "the first line is empty"},
		{name: "a blank first line is refused", content: " \ns3cret\n", mode: 0o600, err: "the first line is empty"},
		{name: "a first line of more than 4 KiB is refused", content: strings.Repeat("x", 5000), mode: 0o600, err: "longer than 4096 bytes"},
		{name: "a long file with a short first line is read", content: "s3cret\n" + strings.Repeat("x", 1<<20), mode: 0o600, token: "s3cret"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(dir, string(rune('a'+i)))
			if err := os.WriteFile(p, []byte(tt.content), tt.mode); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(p, tt.mode); err != nil {
				t.Fatal(err)
			}
			var logged bytes.Buffer
			token, err := ReadTokenFile(p, zerolog.New(&logged))
			switch {
			case tt.err != "":
				if err == nil || !strings.Contains(err.Error(), tt.err) || !strings.Contains(err.Error(), p) {
					t.Errorf("ReadTokenFile = %q, %v; want an error naming %s and saying %q", token, err, p, tt.err)
				}
			case err != nil || token != tt.token:
				t.Errorf("ReadTokenFile = %q, %v; want %q", token, err, tt.token)
			}
			if warned := strings.Contains(logged.String(), "chmod 600"); warned != tt.warned {
				t.Errorf("warned %v, want %v: %s", warned, tt.warned, logged.String())
			}
		})
	}
	for _, p := range []string{dir, filepath.Join(dir, "missing")} {
		if _, err := ReadTokenFile(p, zerolog.Nop()); err == nil || !strings.Contains(err.Error(), "DATA/token") {
			t.Errorf("ReadTokenFile(%s) = %v, want an error saying where the token is", p, err)
		}
	}
}
