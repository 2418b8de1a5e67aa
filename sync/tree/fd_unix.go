//go:build unix

package tree

import "os"

// WithFd runs fn with f's descriptor, holding a reference to it so that a
// concurrent Close cannot let the number be reused under fn. Packages that
// act on files a Tree opened (sync/lock's flags and modes) use it too.
func WithFd(f *os.File, fn func(fd int) error) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var opErr error
	if err := rc.Control(func(fd uintptr) { opErr = fn(int(fd)) }); err != nil {
		return err
	}
	return opErr
}
