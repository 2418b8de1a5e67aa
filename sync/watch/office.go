package watch

import (
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/peerlink/peerlink/sync/filter"
)

// maxLockFile is how much of an office lock file is read for its user: both
// formats are far smaller.
const maxLockFile = 4096

// isLibreOfficeLock reports whether name (a file name, already known to be
// an office lock file) is LibreOffice's rather than Microsoft Office's.
func isLibreOfficeLock(name string) bool { return strings.HasPrefix(name, ".~lock.") }

// lockUser returns the user an office lock file names, from its content,
// or "" when the content is not (yet) in the expected shape.
func lockUser(name string, content []byte) string {
	if isLibreOfficeLock(name) {
		return libreOfficeUser(content)
	}
	return msOfficeUser(content)
}

// libreOfficeUser reads a LibreOffice/OpenOffice lock file: one entry of
// five comma-separated fields ended by ';' — the user's full name as set in
// the suite, the system user name, the host, the time, the user's profile
// URL — where '\' escapes ',', ';' and '\'. The system user name is the one
// a uid would give; the full name stands in when it is empty. An entry
// without its ';' is still being written and yields "".
func libreOfficeUser(b []byte) string {
	var fields []string
	var cur []byte
	esc := false
	for _, c := range b {
		switch {
		case esc:
			cur = append(cur, c)
			esc = false
		case c == '\\':
			esc = true
		case c == ',' || c == ';':
			fields = append(fields, strings.ToValidUTF8(string(cur), "\uFFFD"))
			cur = cur[:0]
			if c == ';' {
				if len(fields) < 2 {
					return ""
				}
				if fields[1] != "" {
					return fields[1]
				}
				return fields[0]
			}
		default:
			cur = append(cur, c)
		}
	}
	return ""
}

// msOfficeUser reads a Microsoft Office owner file ("~$NAME"), 162 bytes
// for Word and 165 for Excel and PowerPoint, as reverse-engineered by
// LibreOffice (which writes them too): a byte with the user name's length
// (1 to 52), the name in the Windows code page, padding to offset 54 (Word)
// or 55 (Excel, PowerPoint), a 2-byte length again, then the name in
// UTF-16LE. The UTF-16 copy is preferred; the code-page copy, decoded as
// Latin-1, is the fallback.
func msOfficeUser(b []byte) string {
	if len(b) < 1 {
		return ""
	}
	n := int(b[0])
	if n < 1 || n > 52 || len(b) < 1+n {
		return ""
	}
	if len(b) >= 162 {
		pos := 54
		u := int(b[pos])
		// 0x20 is both a plausible length and Excel's padding byte: Word
		// pads with zeros, so non-zero bytes before it mean Excel's layout.
		if u == 0x20 && (b[53] != 0 || b[52] != 0) {
			pos = 55
			u = int(b[pos])
		}
		if u >= 1 && u <= 52 && pos+2+2*u <= len(b) {
			units := make([]uint16, u)
			for i := range units {
				units[i] = uint16(b[pos+2+2*i]) | uint16(b[pos+3+2*i])<<8
			}
			if s := strings.TrimRight(string(utf16.Decode(units)), "\x00 "); s != "" && utf8.ValidString(s) {
				return s
			}
		}
	}
	r := make([]rune, n)
	for i, c := range b[1 : 1+n] {
		r[i] = rune(c)
	}
	return strings.TrimRight(string(r), "\x00 ")
}

// pickOfficeDoc returns which of names, the files of a lock file's folder,
// a Microsoft Office owner file "~$doc" belongs to: doc itself if present,
// else the one name whose start Word overwrote (filter.OfficeLockMatches),
// the first in byte order if several could be. "" when none matches.
func pickOfficeDoc(doc string, names []string) string {
	var best string
	for _, n := range names {
		if n == doc {
			return n
		}
		if _, isLock := filter.IsOfficeLock(n); isLock || !filter.OfficeLockMatches(doc, n) {
			continue
		}
		if best == "" || n < best {
			best = n
		}
	}
	return best
}

// lockDoc returns the document name an office lock file called name stands
// for, or "" if there is none. doc is what filter.IsOfficeLock made of the
// name; exists tells whether a name is in the lock file's folder and list
// lists that folder, both only asked for Microsoft Office's owner files,
// whose names may have lost the document's leading characters.
func lockDoc(name, doc string, exists func(string) bool, list func() []string) string {
	if isLibreOfficeLock(name) || exists(doc) {
		return doc
	}
	return pickOfficeDoc(doc, list())
}
