package tree

import (
	"io/fs"

	"github.com/peerlink/peerlink/wire"
)

// Info is what the agent knows of a path without reading its content: the
// fields of a wire.Entry except the hash, plus the inode identity and change
// time the scan cache keys on.
//
// On Windows there is no inode identity or change time to be had from a
// path's listing: Ino, Dev, Uid and Gid are 0 and Ctime is the modification
// time, so the scan cache trusts size and modification time alone there.
type Info struct {
	Kind  wire.EntryKind // wire.KindFile, wire.KindDir, or 0 for anything else
	Type  fs.FileMode    // the type bits (fs.ModeType): what a Kind-0 path is
	Size  int64          // bytes; 0 for folders
	Mtime int64          // modification time, Unix nanoseconds
	Ctime int64          // inode change time, Unix nanoseconds: moves on every write, chmod and rename, and cannot be set by a user
	Mode  uint32         // permission bits only
	Ino   uint64
	Dev   uint64
	Uid   uint32
	Gid   uint32
}

// classify sets Kind from the type bits: regular files and folders are
// what the watch set holds (a folder's size means nothing).
func (i *Info) classify() {
	switch i.Type {
	case 0:
		i.Kind = wire.KindFile
	case fs.ModeDir:
		i.Kind = wire.KindDir
		i.Size = 0
	}
}

// Entry returns the wire entry for the path with this Info; the hash is
// left zero for the caller to fill in.
func (i Info) Entry(path string) wire.Entry {
	e := wire.Entry{Path: path, Kind: i.Kind, Mtime: i.Mtime, Mode: i.Mode}
	if i.Kind == wire.KindFile {
		e.Size = i.Size
	}
	return e
}

// TypeString names what the path is, for messages: "file", "folder",
// "symbolic link", "named pipe", "socket", "device".
func (i Info) TypeString() string {
	switch {
	case i.Kind == wire.KindFile:
		return "file"
	case i.Kind == wire.KindDir:
		return "folder"
	case i.Type&fs.ModeSymlink != 0:
		return "symbolic link"
	case i.Type&fs.ModeNamedPipe != 0:
		return "named pipe"
	case i.Type&fs.ModeSocket != 0:
		return "socket"
	case i.Type&fs.ModeDevice != 0:
		return "device"
	}
	return "special file"
}
