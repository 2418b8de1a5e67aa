package lock

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/peerlink/peerlink/wire"
)

// gone says that err means there is no regular file at the path: nothing
// there, or a folder, symlink or special file (tree refuses those as
// KindInvalid).
func gone(err error) bool {
	if err == nil {
		return false
	}
	var we *wire.Error
	return errors.Is(err, fs.ErrNotExist) || errors.As(err, &we) && (we.Kind == wire.KindInvalid || we.Kind == wire.KindNotFound)
}

// failed wraps a file system error of op on path, saying what to do where
// the cause is the agent's lack of rights.
func (l *Locker) failed(op, path string, err error) error {
	var we *wire.Error
	if errors.As(err, &we) {
		return err
	}
	if errors.Is(err, fs.ErrPermission) {
		return fmt.Errorf("%s %s: the agent (uid %d) may not change this file: run the agent as root, or as the owner of the files it locks: %w", op, path, os.Geteuid(), err)
	}
	return fmt.Errorf("%s %s: %w", op, path, err)
}

func checkPath(path string) error {
	if err := wire.CheckPath(path); err != nil {
		return &wire.Error{Kind: wire.KindInvalid, Path: path, Msg: err.Error()}
	}
	return nil
}
