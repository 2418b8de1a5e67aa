package lock

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/peerlink/peerlink/store"
	"github.com/peerlink/peerlink/sync/filter"
	"github.com/peerlink/peerlink/wire"
)

func TestLockFilesFor(t *testing.T) {
	long := strings.Repeat("x", 246) + ".odt" // 250 bytes: .~lock.NAME# would be 258
	tests := []struct {
		path string
		want []appLock
	}{
		{"report.odt", []appLock{{".~lock.report.odt#", formatLibreOffice}}},
		{"a/b/sheet.ods", []appLock{{"a/b/.~lock.sheet.ods#", formatLibreOffice}}},
		{"flat.fodt", []appLock{{".~lock.flat.fodt#", formatLibreOffice}}},
		{"data.csv", []appLock{{".~lock.data.csv#", formatLibreOffice}}},
		{"old.xls", []appLock{{".~lock.old.xls#", formatLibreOffice}}}, // Excel makes no owner file for .xls
		{"report.docx", []appLock{{".~lock.report.docx#", formatLibreOffice}, {"~$report.docx", formatWord}}},
		{"d/Document1.docx", []appLock{{"d/.~lock.Document1.docx#", formatLibreOffice}, {"d/~$cument1.docx", formatWord}}},
		{"REPORT.DOC", []appLock{{".~lock.REPORT.DOC#", formatLibreOffice}, {"~$REPORT.DOC", formatWord}}},
		{"Budget2024.xlsx", []appLock{{".~lock.Budget2024.xlsx#", formatLibreOffice}, {"~$Budget2024.xlsx", formatExcel}}},
		{"Quarterly results.pptx", []appLock{{".~lock.Quarterly results.pptx#", formatLibreOffice}, {"~$Quarterly results.pptx", formatPowerPoint}}},
		{"slides.ppt", []appLock{{".~lock.slides.ppt#", formatLibreOffice}, {"~$slides.ppt", formatPowerPoint}}},
		{long, []appLock(nil)},
		{"notes.txt", nil},
		{"Makefile", nil},
		{".odt", nil},
		{"archive.", nil},
		{".~lock.report.odt#", nil}, // a lock file gets no lock file
		{"~$report.docx", nil},
	}
	for _, tt := range tests {
		if got := lockFilesFor(tt.path); !slices.Equal(got, tt.want) {
			t.Errorf("lockFilesFor(%q) = %v, want %v", tt.path, got, tt.want)
		}
	}
}

func TestMSOOwnerName(t *testing.T) {
	tests := []struct{ doc, want string }{
		{"test.docx", "~$test.docx"},         // 4: plain prefix
		{"report.docx", "~$report.docx"},     // 6
		{"Report1.docx", "~$eport1.docx"},    // 7: one character replaced
		{"Document1.docx", "~$cument1.docx"}, // 9: two
		{"OfficeReport.docx", "~$ficeReport.docx"},
		{"Überblick.rtf", "~$erblick.rtf"}, // characters, not bytes
		{"OfficeReport.xlsx", "~$OfficeReport.xlsx"},
		{"OfficeReport.pptx", "~$OfficeReport.pptx"},
	}
	for _, tt := range tests {
		stem, ext, _ := extension(tt.doc)
		got := msoOwnerName(tt.doc, stem, msoApp[ext])
		if got != tt.want {
			t.Errorf("owner file of %q = %q, want %q", tt.doc, got, tt.want)
		}
		// The detector on the source side must recognise the name and map
		// it back to the document.
		doc, ok := filter.IsOfficeLock(got)
		if !ok || !filter.OfficeLockMatches(doc, tt.doc) {
			t.Errorf("filter does not map %q back to %q (doc %q, ok %v)", got, tt.doc, doc, ok)
		}
	}
	for _, tt := range lockFilesFor("a/Document1.docx") {
		doc, ok := filter.IsOfficeLock(wire.Base(tt.Path))
		if !ok || !filter.OfficeLockMatches(doc, "Document1.docx") {
			t.Errorf("filter does not map %q back to its document", tt.Path)
		}
	}
}

func TestLibreOfficeContent(t *testing.T) {
	since := time.Date(2024, 3, 5, 9, 7, 30, 0, time.Local)
	tests := []struct {
		h    Holder
		want string
	}{
		{Holder{Host: "hostA", User: "alice"}, "alice on hostA,alice,hostA,05.03.2024 09:07,;"},
		{Holder{Host: "hostA"}, "a user on hostA,,hostA,05.03.2024 09:07,;"},
		{Holder{Host: "h", User: `a,b;c\d`}, `a\,b\;c\\d on h,a\,b\;c\\d,h,05.03.2024 09:07,;`},
		{Holder{Host: "h", User: "zoë"}, "zoë on h,zoë,h,05.03.2024 09:07,;"},
	}
	for _, tt := range tests {
		got := libreOfficeContent(tt.h, since)
		if string(got) != tt.want {
			t.Errorf("content for %+v = %q, want %q", tt.h, got, tt.want)
		}
		fields, ok := parseLibreOffice(got)
		if !ok || fields[loUserName] != tt.h.display() || fields[loSysUser] != tt.h.User || fields[loHost] != tt.h.Host || fields[loEditTime] != "05.03.2024 09:07" {
			t.Errorf("parse(%q) = %q, %v", got, fields, ok)
		}
		if !formatLibreOffice.names(got, tt.h) {
			t.Errorf("names(%q, %+v) = false", got, tt.h)
		}
		if who, ok := formatLibreOffice.holder(got); !ok || who != tt.h.display() {
			t.Errorf("holder(%q) = %q, %v", got, who, ok)
		}
	}
}

func TestParseLibreOffice(t *testing.T) {
	tests := []struct {
		in   string
		ok   bool
		user string
	}{
		// As LibreOffice writes it for a user with no name in its user data.
		{",bob,bobs-pc,01.02.2024 10:30,file:///home/bob/.config/libreoffice/4;", true, ""},
		{"Bob Smith,bob,bobs-pc,01.02.2024 10:30,file:///home/bob/.config/libreoffice/4;", true, "Bob Smith"},
		{"Bob Smith,bob,bobs-pc,01.02.2024 10:30,file:///x;trailing", true, "Bob Smith"},
		{"Bob,bob,bobs-pc,01.02.2024 10:30,file:///x", false, ""}, // no ';'
		{"Bob,bob,bobs-pc;01.02.2024 10:30,x;", false, ""},        // ';' too early
		{`Bob\x,bob,h,t,u;`, false, ""},                           // bad escape
		{"", false, ""},
	}
	for _, tt := range tests {
		fields, ok := parseLibreOffice([]byte(tt.in))
		if ok != tt.ok || ok && fields[loUserName] != tt.user {
			t.Errorf("parse(%q) = %q, %v; want user %q, %v", tt.in, fields, ok, tt.user, tt.ok)
		}
	}
	// A local user's lock file is not this package's, and its holder is
	// the user name, or the system user when there is none.
	b := []byte(",bob,bobs-pc,01.02.2024 10:30,file:///home/bob/.config/libreoffice/4;")
	if formatLibreOffice.names(b, Holder{Host: "bobs-pc", User: "bob"}) {
		t.Error("a LibreOffice lock file taken for this package's")
	}
	if who, ok := formatLibreOffice.holder(b); !ok || who != "bob" {
		t.Errorf("holder = %q, %v", who, ok)
	}
}

// msoWant builds an owner file byte by byte from the layout description,
// independently of msoContent.
func msoWant(f format, name string) []byte {
	u := utf16.Encode([]rune(name))
	size := 165
	if f == formatWord {
		size = 162
	}
	b := make([]byte, size)
	b[0] = byte(len(u))
	copy(b[1:], name) // ASCII names only here
	utf := 54
	switch f {
	case formatWord: // zeros up to 54 already
	case formatExcel:
		for i := 1 + len(u); i < 55; i++ {
			b[i] = 0x20
		}
		utf = 55
	case formatPowerPoint:
		for i := 2 + len(u); i < 55; i++ {
			b[i] = 0x20
		}
		utf = 55
	}
	b[utf] = byte(len(u))
	for i, c := range u {
		b[utf+2+2*i] = byte(c)
		b[utf+3+2*i] = byte(c >> 8)
	}
	if f != formatWord {
		for i := utf + 2 + 2*len(u); i < size; i += 2 {
			b[i] = 0x20
		}
	}
	return b
}

func TestMSOContent(t *testing.T) {
	for _, f := range []format{formatWord, formatExcel, formatPowerPoint} {
		for _, name := range []string{"alice on hostA", "x", strings.Repeat("n", 52)} {
			got := msoContent(f, name)
			if want := msoWant(f, name); !bytes.Equal(got, want) {
				t.Errorf("%v %q:\n got %x\nwant %x", f, name, got, want)
			}
			if back, ok := parseMSO(got); !ok || back != name {
				t.Errorf("%v: parse = %q, %v; want %q", f, back, ok, name)
			}
			h := Holder{Host: "hostA", User: "alice"}
			if c := f.content(h, time.Time{}); !f.names(c, h) || f.names(c, Holder{Host: "hostB", User: "alice"}) {
				t.Errorf("%v: names() does not tell holders apart", f)
			}
		}
	}
	// Longer names are cut to 52 UTF-16 units, never inside a surrogate
	// pair; non-Latin-1 characters are '?' in the 8-bit copy.
	long := strings.Repeat("é", 51) + "😀x"
	b := msoContent(formatWord, long)
	name, ok := parseMSO(b)
	if !ok || name != strings.Repeat("é", 51) {
		t.Errorf("long name parsed as %q, %v", name, ok)
	}
	if b[0] != 51 || b[1] != 0xe9 {
		t.Errorf("8-bit copy: length %d, first byte %#x", b[0], b[1])
	}
	b = msoContent(formatExcel, "Ωmega")
	if b[1] != '?' || b[2] != 'm' {
		t.Errorf("8-bit copy of Ωmega: %q", b[1:6])
	}
	if name, _ := parseMSO(b); name != "Ωmega" {
		t.Errorf("Ωmega parsed as %q", name)
	}
	// A real Excel owner file as LibreOffice documents it: the name then
	// 0x20 up to 55, where the UTF-16 length is.
	if name, ok := parseMSO(msoWant(formatExcel, "Jane Doe")); !ok || name != "Jane Doe" {
		t.Errorf("Excel layout parsed as %q, %v", name, ok)
	}
	for _, bad := range [][]byte{nil, make([]byte, 161), make([]byte, 162), append([]byte{53}, make([]byte, 161)...)} {
		if _, ok := parseMSO(bad); ok {
			t.Errorf("parseMSO(%x...) accepted", bad[:min(len(bad), 4)])
		}
	}
}

func TestHolder(t *testing.T) {
	for _, h := range []Holder{{"hostA", "alice"}, {"hostA", ""}, {"h", "DOMAIN\\bob"}, {"h", "john@corp"}} {
		if got := parseHolder(h.String()); got != h {
			t.Errorf("parseHolder(%q) = %+v, want %+v", h.String(), got, h)
		}
	}
}

func TestLockedState(t *testing.T) {
	tests := []struct {
		mode, flags uint32
		imm         bool
		wantMode    uint32
		wantFlags   uint32
	}{
		{0o644, 0x80000, true, 0o444, 0x80010},           // extents kept, immutable added
		{0o644, 0x80000, false, 0o444, 0x80000},          // no immutable where refused
		{0o4775, 0, true, 0o4555, 0x10},                  // setuid kept
		{0o444, 0, true, 0o444, 0x10},                    // already read-only
		{0o666, 0x20, true, 0o444, 0x30},                 // append-only stays, immutable added
		{0o644, 0x10, true, 0o644, 0x10},                 // already immutable: left as it is
		{0o644, flagsUnknown, true, 0o444, flagsUnknown}, // no flags on this file system
		{0o600, flagsUnknown, false, 0o400, flagsUnknown},
	}
	for _, tt := range tests {
		m, f := lockedState(tt.mode, tt.flags, tt.imm)
		if m != tt.wantMode || f != tt.wantFlags {
			t.Errorf("lockedState(%o, %#x, %v) = %o, %#x; want %o, %#x", tt.mode, tt.flags, tt.imm, m, f, tt.wantMode, tt.wantFlags)
		}
	}
}

func TestMatch(t *testing.T) {
	rec := store.LockRecord{Dev: 1, Ino: 2, Gen: 3}
	noGen := store.LockRecord{Dev: 1, Ino: 2, Gen: genUnknown}
	tests := []struct {
		rec          store.LockRecord
		id           ident
		same, unsure bool
	}{
		{rec, ident{dev: 1, ino: 2, gen: 3}, true, false},
		{rec, ident{dev: 1, ino: 2, gen: 4}, false, false}, // inode number reused
		{rec, ident{dev: 1, ino: 5, gen: 3}, false, false},
		{rec, ident{dev: 9, ino: 2, gen: 3}, false, false},
		{rec, ident{dev: 1, ino: 2, gen: genUnknown}, false, true},
		{noGen, ident{dev: 1, ino: 2, gen: genUnknown}, true, false},
		{noGen, ident{dev: 1, ino: 2, gen: 7}, true, false},
		{noGen, ident{dev: 1, ino: 3, gen: genUnknown}, false, false},
	}
	for i, tt := range tests {
		if same, unsure := match(tt.rec, tt.id); same != tt.same || unsure != tt.unsure {
			t.Errorf("%d: match = %v, %v; want %v, %v", i, same, unsure, tt.same, tt.unsure)
		}
	}
}

func TestJoinLockFiles(t *testing.T) {
	files := lockFilesFor("a/report.docx")
	rec := store.LockRecord{Path: "a/report.docx", LockFile: joinLockFiles(files)}
	if got := recordedLockFiles(rec); !slices.Equal(got, files) {
		t.Errorf("recorded %v, want %v", got, files)
	}
	if splitLockFiles("") != nil {
		t.Error("no lock file split into some")
	}
}
