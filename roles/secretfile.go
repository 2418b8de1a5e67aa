package roles

import (
	"fmt"
	"io"
	"os"
	"strings"
)

// maxSecretFile bounds what ReadFirstLine reads: a secret is a line of a
// few dozen bytes, and a wrong path (a device, a log) must not be read whole.
const maxSecretFile = 4 << 10

// ReadFirstLine returns the first line of the regular file at path,
// trimmed, for flag (a password or API token file). It reads at most a
// few KiB; loose reports whether others than its owner may read it.
func ReadFirstLine(path, flag string) (line string, err error) {
	line, _, err = readFirstLine(path, flag)
	return line, err
}

func readFirstLine(path, flag string) (string, bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", false, fmt.Errorf("%s: %w", flag, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", false, fmt.Errorf("%s %s: %w", flag, path, err)
	}
	if !fi.Mode().IsRegular() {
		return "", false, fmt.Errorf("%s %s: not a regular file", flag, path)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxSecretFile+1))
	if err != nil {
		return "", false, fmt.Errorf("%s %s: %w", flag, path, err)
	}
	first, _, found := strings.Cut(string(b), "\n")
	if !found && len(b) > maxSecretFile {
		return "", false, fmt.Errorf("%s %s: the first line is longer than %d bytes: is it the right file?", flag, path, maxSecretFile)
	}
	first = strings.TrimSpace(first)
	if first == "" {
		return "", false, fmt.Errorf("%s %s: the first line is empty", flag, path)
	}
	return first, fi.Mode().Perm()&0o077 != 0, nil
}

// ReadSecretFile is ReadFirstLine that also says, as an error-free
// warning, when others than the file's owner may read it.
func ReadSecretFile(path, flag string) (secret, warning string, err error) {
	s, loose, err := readFirstLine(path, flag)
	if err == nil && loose {
		warning = path + " can be read by other users: chmod 600 it"
	}
	return s, warning, err
}

// WriteSecretFile writes secret to a new file at path, readable by its
// owner only; an existing file is not replaced.
func WriteSecretFile(path, secret string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	if _, err := f.WriteString(secret + "\n"); err != nil {
		f.Close()
		return fmt.Errorf("--out %s: %w", path, err)
	}
	return f.Close()
}
