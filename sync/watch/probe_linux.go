//go:build linux && !watch_fsnotify

package watch

import "path/filepath"

func probeFanotify(root string) error {
	real, err := filepath.EvalSymlinks(root)
	if err != nil {
		return err
	}
	f, err := openFanotify(real)
	if err != nil {
		return err
	}
	return f.Close()
}
