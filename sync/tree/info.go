package tree

import (
	"io/fs"
	"os"

	"github.com/peerlink/peerlink/wire"
	"golang.org/x/sys/unix"
)

// Info is what the agent knows of a path without reading its content: the
// fields of a wire.Entry except the hash, plus the inode identity and change
// time the scan cache keys on.
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

// Stat returns the Info of an open file, such as one from OpenRead, so a
// reader can tell whether the file changed while it was being read.
func Stat(f *os.File) (Info, error) {
	var st unix.Stat_t
	err := withFd(f, func(fd int) error { return unix.Fstat(fd, &st) })
	if err != nil {
		return Info{}, &fs.PathError{Op: "fstat", Path: f.Name(), Err: err}
	}
	return infoOf(&st), nil
}

func infoOf(st *unix.Stat_t) Info {
	i := Info{
		Size:  st.Size,
		Mtime: st.Mtim.Nano(),
		Ctime: st.Ctim.Nano(),
		Mode:  uint32(st.Mode) & uint32(fs.ModePerm),
		Ino:   uint64(st.Ino),
		Dev:   uint64(st.Dev),
		Uid:   st.Uid,
		Gid:   st.Gid,
	}
	i.Type = typeOf(uint32(st.Mode))
	switch i.Type {
	case 0:
		i.Kind = wire.KindFile
	case fs.ModeDir:
		i.Kind = wire.KindDir
		i.Size = 0
	}
	return i
}

// typeOf converts the S_IFMT bits of a stat mode to fs.FileMode type bits.
func typeOf(mode uint32) fs.FileMode {
	switch mode & unix.S_IFMT {
	case unix.S_IFREG:
		return 0
	case unix.S_IFDIR:
		return fs.ModeDir
	case unix.S_IFLNK:
		return fs.ModeSymlink
	case unix.S_IFIFO:
		return fs.ModeNamedPipe
	case unix.S_IFSOCK:
		return fs.ModeSocket
	case unix.S_IFCHR:
		return fs.ModeDevice | fs.ModeCharDevice
	case unix.S_IFBLK:
		return fs.ModeDevice
	}
	return fs.ModeIrregular
}

// withFd runs fn with f's descriptor, holding a reference to it so that a
// concurrent Close cannot let the number be reused under fn.
func withFd(f *os.File, fn func(fd int) error) error {
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
