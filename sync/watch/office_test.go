package watch

import (
	"testing"
)

func TestLibreOfficeUser(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{libreOfficeLock, "jane"},
		{`Jane Doe,,host,date,url;`, "Jane Doe"},                   // no system user name: the full name
		{`a\,b,j\;oe\\x,host,date,url;`, `j;oe\x`},                 // escapes
		{`Jane Doe,jane,host`, ""},                                 // still being written
		{``, ""},                                                   //
		{`only;`, ""},                                              // too few fields
		{"Jos\xe9,jos\xe9,h,d,u;", "jos\uFFFD"},                    // not UTF-8
		{"Z,zed,h,d,u;\nsecond,entry,h,d,u;", "zed"},               // the first entry
		{`Ann,ann,host,01.01.2026 10:00,file:///home/ann;`, "ann"}, //
	} {
		if got := libreOfficeUser([]byte(c.in)); got != c.want {
			t.Errorf("libreOfficeUser(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestMSOfficeUser(t *testing.T) {
	for _, word := range []bool{true, false} {
		for _, user := range []string{"John Smith", "x", "A name of exactly thirty-two ch.", "j.doe"} {
			b := msOwnerFile(user, word)
			if got := msOfficeUser(b); got != user {
				t.Errorf("word=%v %q: got %q", word, user, got)
			}
		}
	}
	// A UTF-16 name with characters outside Latin-1.
	b := make([]byte, 162)
	b[0] = 3
	copy(b[1:], "???")
	b[54] = 3
	for i, r := range []rune("Łuk") {
		b[56+2*i] = byte(r)
		b[57+2*i] = byte(r >> 8)
	}
	if got := msOfficeUser(b); got != "Łuk" {
		t.Errorf("UTF-16 name: %q", got)
	}
	// Short (truncated) file: the code-page copy.
	if got := msOfficeUser([]byte("\x04Mary\x00\x00")); got != "Mary" {
		t.Errorf("short file: %q", got)
	}
	for _, bad := range [][]byte{nil, {0}, {60, 'a'}, {5, 'a', 'b'}} {
		if got := msOfficeUser(bad); got != "" {
			t.Errorf("msOfficeUser(%q) = %q, want nothing", bad, got)
		}
	}
}

func TestPickOfficeDoc(t *testing.T) {
	names := []string{"OfficeReport.docx", "~$ficeReport.docx", "test.docx", "Report.docx", "notes.txt"}
	for _, c := range []struct{ doc, want string }{
		{"ficeReport.docx", "OfficeReport.docx"}, // Word cut two characters
		{"test.docx", "test.docx"},               // short names are whole
		{"port.docx", ""},                        // "Report" is too short to have been cut
		{"missing.xlsx", ""},
		{"Report.docx", "Report.docx"}, // a name of its own
	} {
		if got := pickOfficeDoc(c.doc, names); got != c.want {
			t.Errorf("pickOfficeDoc(%q) = %q, want %q", c.doc, got, c.want)
		}
	}
	// Several candidates: the exact name wins, else the first.
	if got := pickOfficeDoc("ngreport.docx", []string{"bbngreport.docx", "aangreport.docx", "ngreport.docx"}); got != "ngreport.docx" {
		t.Errorf("exact name not preferred: %q", got)
	}
	if got := pickOfficeDoc("ngreport.docx", []string{"bbngreport.docx", "aangreport.docx"}); got != "aangreport.docx" {
		t.Errorf("first candidate: %q", got)
	}
	exists := func(string) bool { return false }
	list := func() []string { t.Fatal("a LibreOffice lock names its document: no listing"); return nil }
	if got := lockDoc(".~lock.a b.odt#", "a b.odt", exists, list); got != "a b.odt" {
		t.Errorf("lockDoc LibreOffice: %q", got)
	}
}

func TestPathHelpers(t *testing.T) {
	if !under("a/b", "a") || !under("a", "a") || under("ab", "a") || under("a", "a/b") {
		t.Error("under")
	}
	m := map[string]int{"a": 1, "a/b": 2, "ab": 3, "c": 4}
	rekey(m, "a", "x/y")
	if len(m) != 4 || m["x/y"] != 1 || m["x/y/b"] != 2 || m["ab"] != 3 {
		t.Errorf("rekey: %v", m)
	}
	dropUnder(m, "x/y")
	if len(m) != 2 {
		t.Errorf("dropUnder: %v", m)
	}
	if dirOf("a/b/c") != "a/b" || dirOf("a") != "" || join("", "a") != "a" || join("a", "b") != "a/b" {
		t.Error("dirOf/join")
	}
}
