package filter

import (
	"strings"
	"unicode/utf8"
)

// IsOfficeLock reports whether base, a file name without folder, is an
// office suite's lock file, and returns what it says about the document's
// name:
//
//   - LibreOffice/OpenOffice: ".~lock.NAME#" locks NAME exactly.
//   - Microsoft Office owner file: "~$NAME". Excel and PowerPoint put the
//     whole document name after "~$". Word keeps the owner file's name short
//     by letting "~$" overwrite the start of a long document name:
//     "OfficeReport.docx" -> "~$ficeReport.docx", "Document1.docx" ->
//     "~$cument1.docx", while "test.docx" -> "~$test.docx". Reports agree
//     that base names (before the extension) of 6 characters or fewer get a
//     plain prefix and that 8 or more lose their first two characters; for 7
//     they differ (one or two). So for Office, doc is what is left of the
//     document's name and may miss one or two leading characters: test a
//     folder's names against it with OfficeLockMatches, not with ==.
func IsOfficeLock(base string) (doc string, ok bool) {
	if rest, found := strings.CutPrefix(base, ".~lock."); found {
		if name, found := strings.CutSuffix(rest, "#"); found && name != "" && !strings.Contains(name, "/") {
			return name, true
		}
		return "", false
	}
	if rest, found := strings.CutPrefix(base, "~$"); found && rest != "" && !strings.Contains(rest, "/") {
		return rest, true
	}
	return "", false
}

// OfficeLockMatches reports whether name, a file in the lock file's folder,
// is a document the lock file could belong to, given the doc IsOfficeLock
// returned for it: name itself, or name with the one or two leading
// characters Word overwrites, and only when its base name is long enough for
// Word to have done so (7 characters or more; both variants are accepted
// there since reports differ), so "~$port.docx" never claims "Report.docx".
// Where several names in one folder match, prefer the one equal to doc.
func OfficeLockMatches(doc, name string) bool {
	if name == doc {
		return true
	}
	cut := utf8.RuneCountInString(name) - utf8.RuneCountInString(doc) // Word counts characters, not bytes
	if cut != 1 && cut != 2 || !strings.HasSuffix(name, doc) {
		return false
	}
	stem := name
	if i := strings.LastIndexByte(name, '.'); i > 0 {
		stem = name[:i]
	}
	return utf8.RuneCountInString(stem) >= 7
}
