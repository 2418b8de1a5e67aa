package lock

import (
	"bytes"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/peerlink/peerlink/sync/filter"
	"github.com/peerlink/peerlink/wire"
)

// format is an application lock file format.
type format uint8

const (
	formatLibreOffice format = iota + 1 // .~lock.NAME#
	formatWord                          // ~$NAME, Word's layout and name shortening
	formatExcel                         // ~$NAME, Excel's layout
	formatPowerPoint                    // ~$NAME, PowerPoint's layout
)

func (f format) String() string {
	switch f {
	case formatLibreOffice:
		return "LibreOffice"
	case formatWord:
		return "Microsoft Word"
	case formatExcel:
		return "Microsoft Excel"
	case formatPowerPoint:
		return "Microsoft PowerPoint"
	}
	return "unknown"
}

// Which documents get which lock files, by lower-case extension. Every
// document LibreOffice edits gets its .~lock.NAME#; Microsoft Office
// documents get an owner file ~$NAME as well, which Office reads and
// LibreOffice 6.4 and later reads too. Excel makes no owner file for the
// old .xls/.xlt formats (LibreOffice's reverse engineering of the format,
// svl/source/misc/msodocumentlockfile.cxx, notes the same), so those get
// only LibreOffice's.
var (
	msoApp = map[string]format{
		"doc": formatWord, "docx": formatWord, "docm": formatWord, "dot": formatWord,
		"dotx": formatWord, "dotm": formatWord, "rtf": formatWord,
		"xlsx": formatExcel, "xlsm": formatExcel, "xlsb": formatExcel, "xltx": formatExcel, "xltm": formatExcel,
		"ppt": formatPowerPoint, "pptx": formatPowerPoint, "pptm": formatPowerPoint,
		"pps": formatPowerPoint, "ppsx": formatPowerPoint, "ppsm": formatPowerPoint,
		"pot": formatPowerPoint, "potx": formatPowerPoint, "potm": formatPowerPoint,
	}
	libreOfficeOnly = map[string]bool{
		"odt": true, "ods": true, "odp": true, "odg": true, "odf": true, "odb": true, "odm": true,
		"ott": true, "ots": true, "otp": true, "otg": true,
		"fodt": true, "fods": true, "fodp": true, "fodg": true,
		"xls": true, "xlt": true, "csv": true,
	}
)

// maxNameLen is NAME_MAX: a lock file whose name would be longer is not
// written.
const maxNameLen = 255

// appLock is one application lock file: where, and in which format.
type appLock struct {
	Path   string
	Format format
}

// extension returns the lower-case extension of a file name, without the
// dot, and the name before it; ok is false for a name without one.
func extension(base string) (stem, ext string, ok bool) {
	i := strings.LastIndexByte(base, '.')
	if i <= 0 || i == len(base)-1 {
		return base, "", false
	}
	return base[:i], strings.ToLower(base[i+1:]), true
}

// lockFilesFor returns the application lock files a lock of the document
// path writes, none for a file type that has none.
func lockFilesFor(path string) []appLock {
	dir, base := wire.Parent(path), wire.Base(path)
	if _, isLock := filter.IsOfficeLock(base); isLock {
		return nil
	}
	stem, ext, ok := extension(base)
	if !ok {
		return nil
	}
	app, mso := msoApp[ext]
	if !mso && !libreOfficeOnly[ext] {
		return nil
	}
	var out []appLock
	add := func(name string, f format) {
		if len(name) <= maxNameLen {
			out = append(out, appLock{Path: joinPath(dir, name), Format: f})
		}
	}
	add(".~lock."+base+"#", formatLibreOffice)
	if mso {
		add(msoOwnerName(base, stem, app), app)
	}
	return out
}

// msoOwnerName is the name Office gives the owner file of base. Excel and
// PowerPoint prefix the whole name with "~$". Word keeps the name short:
// when the name before the extension has 8 characters or more, "~$"
// replaces its first two; with exactly 7, its first one (LibreOffice's
// reading of Office 2016, which LibreOffice itself follows when it writes
// these files).
func msoOwnerName(base, stem string, app format) string {
	if app == formatWord {
		switch n := utf8.RuneCountInString(stem); {
		case n >= 8:
			base = dropRunes(base, 2)
		case n == 7:
			base = dropRunes(base, 1)
		}
	}
	return "~$" + base
}

func dropRunes(s string, n int) string {
	for ; n > 0 && s != ""; n-- {
		_, size := utf8.DecodeRuneInString(s)
		s = s[size:]
	}
	return s
}

// formatOf returns the format of a lock file recorded for the document
// path, from the lock file's name.
func formatOf(docPath, lockPath string) (format, bool) {
	base := wire.Base(lockPath)
	if strings.HasPrefix(base, ".~lock.") {
		return formatLibreOffice, true
	}
	if strings.HasPrefix(base, "~$") {
		if _, ext, ok := extension(wire.Base(docPath)); ok {
			if app, ok := msoApp[ext]; ok {
				return app, true
			}
		}
	}
	return 0, false
}

// content is what the lock file of holder h, holding since since, holds.
func (f format) content(h Holder, since time.Time) []byte {
	if f == formatLibreOffice {
		return libreOfficeContent(h, since)
	}
	return msoContent(f, h.display())
}

// holder returns the name a lock file's content shows, and whether the
// content is a well-formed lock file of this format at all.
func (f format) holder(b []byte) (string, bool) {
	if f == formatLibreOffice {
		fields, ok := parseLibreOffice(b)
		if !ok {
			return "", false
		}
		if fields[loUserName] != "" {
			return fields[loUserName], true
		}
		return fields[loSysUser], true
	}
	return parseMSO(b)
}

// names reports whether b is a lock file of this format that this package
// wrote for holder h (the date aside): the only lock files a Locker ever
// replaces or removes.
func (f format) names(b []byte, h Holder) bool {
	if f == formatLibreOffice {
		fields, ok := parseLibreOffice(b)
		return ok && fields[loUserName] == h.display() && fields[loSysUser] == h.User &&
			fields[loHost] == h.Host && fields[loUserURL] == ""
	}
	name, ok := parseMSO(b)
	return ok && name == string(utf16.Decode(msoName(h.display())))
}

// LibreOffice's lock file (svl/source/misc/documentlockfile.cxx,
// lockfilecommon.cxx) is one entry of five fields, UTF-8, each field with
// '\', ',' and ';' escaped by a '\', fields separated by ',' and the entry
// ended by ';', no newline:
//
//	OOOUSERNAME,SYSUSERNAME,LOCALHOST,EDITTIME,USERURL;
//
// OOOUSERNAME is the name from LibreOffice's user data ("First Last"),
// shown in its "Document in Use" dialog (SYSUSERNAME when empty, followed
// by the time); EDITTIME is local "DD.MM.YYYY HH:MM"; USERURL is the
// locking user's profile folder. LibreOffice takes a lock file for its own
// (a stale one left by a crash) only when SYSUSERNAME, LOCALHOST and
// USERURL all equal its own, which a remote holder's never do. This
// package writes the holder's display name ("alice on hostA"), the
// holder's user, the holder's host, the lock's start and an empty USERURL.
const (
	loUserName = iota
	loSysUser
	loHost
	loEditTime
	loUserURL
	loFields
)

func libreOfficeContent(h Holder, since time.Time) []byte {
	fields := [loFields]string{
		loUserName: h.display(),
		loSysUser:  h.User,
		loHost:     h.Host,
		loEditTime: since.Local().Format("02.01.2006 15:04"),
	}
	var b bytes.Buffer
	for i, f := range fields {
		for _, r := range f {
			switch r {
			case 0:
				continue // LibreOffice stops at a NUL; none belongs in a name
			case '\\', ',', ';':
				b.WriteByte('\\')
			}
			b.WriteRune(r)
		}
		if i < loFields-1 {
			b.WriteByte(',')
		} else {
			b.WriteByte(';')
		}
	}
	return b.Bytes()
}

// parseLibreOffice parses the first entry of a LibreOffice lock file as
// LibreOffice does (LockFileCommon::ParseEntry).
func parseLibreOffice(b []byte) (fields [loFields]string, ok bool) {
	pos := 0
	for i := range loFields {
		var name []byte
		for {
			if pos >= len(b) {
				return fields, false
			}
			c := b[pos]
			if c == ',' || c == ';' {
				break
			}
			if c == '\\' {
				pos++
				if pos >= len(b) || (b[pos] != ',' && b[pos] != ';' && b[pos] != '\\') {
					return fields, false
				}
				c = b[pos]
			}
			name = append(name, c)
			pos++
		}
		want := byte(',')
		if i == loFields-1 {
			want = ';'
		}
		if b[pos] != want {
			return fields, false
		}
		pos++
		fields[i] = string(name)
	}
	return fields, true
}

// Microsoft Office's owner file, as LibreOffice reverse-engineered it from
// Office 2016 (svl/source/misc/msodocumentlockfile.cxx): byte 0 is the
// user name's length (at most 52), bytes 1.. the name in the Windows 8-bit
// code page, padded for Word with zero bytes up to offset 54, for Excel
// with 0x20 bytes up to 55, for PowerPoint with one zero byte then 0x20
// bytes up to 55; there the length again as a 16-bit little-endian word,
// then the name in UTF-16LE; then padding to 162 bytes for Word (zero
// bytes) or 165 for Excel and PowerPoint (0x20 0x00 pairs). Office shows
// the name in its "File in Use ... locked for editing by" dialog, and
// LibreOffice shows it followed by "(MS Office)".
const (
	msoMaxName  = 52
	msoWordSize = 162
	msoXLPPSize = 165
)

// msoName is name cut to what an owner file holds: 52 UTF-16 code units,
// never half a surrogate pair.
func msoName(name string) []uint16 {
	u := utf16.Encode([]rune(name))
	if len(u) > msoMaxName {
		u = u[:msoMaxName]
		if utf16.IsSurrogate(rune(u[msoMaxName-1])) {
			u = u[:msoMaxName-1]
		}
	}
	return u
}

func msoContent(f format, name string) []byte {
	u := msoName(name)
	size, fill, at := msoXLPPSize, byte(0x20), msoMaxName+3
	if f == formatWord {
		size, fill, at = msoWordSize, 0, msoMaxName+2
	}
	b := make([]byte, 0, size)
	b = append(b, byte(len(u)))
	for _, c := range u {
		// The 8-bit copy: ASCII and Latin-1 letters are the same in
		// Windows-1252; anything else becomes '?'. Office and LibreOffice
		// read the UTF-16 copy.
		if c < 0x80 || c >= 0xa0 && c <= 0xff {
			b = append(b, byte(c))
		} else {
			b = append(b, '?')
		}
	}
	if f == formatPowerPoint {
		b = append(b, 0)
	}
	for len(b) < at {
		b = append(b, fill)
	}
	b = append(b, byte(len(u)), 0)
	for _, c := range u {
		b = append(b, byte(c), byte(c>>8))
	}
	for len(b) < size {
		if f == formatWord {
			b = append(b, 0)
			continue
		}
		b = append(b, 0x20)
		if len(b) < size {
			b = append(b, 0)
		}
	}
	return b
}

// parseMSO reads the user name from an owner file as LibreOffice does
// (MSODocumentLockFile::GetLockData), for either layout.
func parseMSO(b []byte) (string, bool) {
	if len(b) < msoWordSize {
		return "", false
	}
	if n := int(b[0]); n == 0 || n > msoMaxName {
		return "", false
	}
	pos := msoMaxName + 2
	n := int(b[pos])
	// 0x20 at the Word position is padding if either byte before it is
	// not zero: Word pads with zeros, Excel and PowerPoint with 0x20.
	if n == 0x20 && (b[pos-1] != 0 || b[pos-2] != 0) {
		pos++
		n = int(b[pos])
	}
	if n == 0 || n > msoMaxName || pos+2+2*n > len(b) {
		return "", false
	}
	u := make([]uint16, n)
	for i := range u {
		u[i] = uint16(b[pos+2+2*i]) | uint16(b[pos+3+2*i])<<8
	}
	return string(utf16.Decode(u)), true
}

func joinPath(dir, name string) string {
	if dir == "" {
		return name
	}
	return dir + "/" + name
}
