package hub

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/rs/zerolog"
	"golang.org/x/crypto/bcrypt"
)

func TestReadPasswordFile(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, content, want, wantErr string
	}{
		{"the first line, trimmed", "  s3cret pass \nanother line\n", "s3cret pass", ""},
		{"a file without a newline", "longenough", "longenough", ""},
		{"a short password is refused", "short\n", "", "shorter than 8 characters"},
		{"an empty file is refused", "", "", "shorter than 8 characters"},
		{"a password over bcrypt's 72 bytes is refused", strings.Repeat("x", 73) + "\n", "", "longer than 72 bytes"},
	} {
		p := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-"))
		if err := os.WriteFile(p, []byte(tc.content), 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := ReadPasswordFile(p)
		if got != tc.want || (err == nil) != (tc.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
			t.Errorf("%s: %q, %v; want %q, error %q", tc.name, got, err, tc.want, tc.wantErr)
		}
	}
	if _, err := ReadPasswordFile(filepath.Join(dir, "missing")); err == nil {
		t.Error("a missing file gave no error")
	}
}

func TestAdminPasswordIsGeneratedOnceOrSet(t *testing.T) {
	h, err := Open(Config{DataDir: t.TempDir(), Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	check := func(pw string) {
		t.Helper()
		// The password is the admin account's.
		hash, role, err := h.UserHash("admin")
		if err != nil || role != "admin" || bcrypt.CompareHashAndPassword(hash, []byte(pw)) != nil {
			t.Errorf("the admin account (role %q) has a hash %q not of %q (%v)", role, hash, pw, err)
		}
	}

	var out bytes.Buffer
	if err := adminPassword(h, Options{Stderr: &out}); err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`^console sign-in: user admin, password (\S{16,}) \(shown once; set your own with --admin-password-file\)\n$`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("first start printed %q", out.String())
	}
	check(m[1])

	out.Reset()
	if err := adminPassword(h, Options{Stderr: &out}); err != nil || out.Len() != 0 {
		t.Errorf("second start printed %q, %v; want nothing", out.String(), err)
	}
	check(m[1])

	if err := adminPassword(h, Options{Stderr: &out, AdminPassword: "chosen password"}); err != nil || out.Len() != 0 {
		t.Errorf("a given password: printed %q, %v", out.String(), err)
	}
	check("chosen password")
}
