//go:build !linux || watch_fsnotify

package watch

import "errors"

func probeFanotify(string) error {
	return errors.ErrUnsupported
}

func leasesEnabled() bool { return false }

func probeFanotifyTree(string) error {
	return errors.ErrUnsupported
}
