package wire

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
	"testing"
)

func TestToError(t *testing.T) {
	pathErr := func(err error) error {
		return &fs.PathError{Op: "open", Path: "/srv/docs/docs/plan.docx", Err: err}
	}
	tests := []struct {
		name string
		err  error
		kind ErrKind
		want string // Error() of the result for apply docs/plan.docx on site-b
	}{
		{"a permission error is permission denied", pathErr(os.ErrPermission), KindPermission, "site-b: apply docs/plan.docx: permission denied"},
		{"EACCES is permission denied", pathErr(syscall.EACCES), KindPermission, "site-b: apply docs/plan.docx: permission denied"},
		{"EPERM is permission denied", pathErr(syscall.EPERM), KindPermission, "site-b: apply docs/plan.docx: operation not permitted"},
		{"a missing file is not found", pathErr(os.ErrNotExist), KindNotFound, "site-b: apply docs/plan.docx: file does not exist"},
		{"ENOENT is not found", pathErr(syscall.ENOENT), KindNotFound, "site-b: apply docs/plan.docx: no such file or directory"},
		{"EEXIST is already exists", pathErr(syscall.EEXIST), KindExists, "site-b: apply docs/plan.docx: file exists"},
		{"ENOSPC is no space", pathErr(syscall.ENOSPC), KindNoSpace, "site-b: apply docs/plan.docx: no space left on device"},
		{"EDQUOT is no space", pathErr(syscall.EDQUOT), KindNoSpace, "site-b: apply docs/plan.docx: disk quota exceeded"},
		{"EBUSY is busy", pathErr(syscall.EBUSY), KindBusy, "site-b: apply docs/plan.docx: device or resource busy"},
		{"ETXTBSY is busy", pathErr(syscall.ETXTBSY), KindBusy, "site-b: apply docs/plan.docx: text file busy"},
		{"EAGAIN is busy", pathErr(syscall.EAGAIN), KindBusy, "site-b: apply docs/plan.docx: resource temporarily unavailable"},
		{"a wrapped path error keeps its kind and drops the local path", fmt.Errorf("write chunk: %w", pathErr(syscall.ENOSPC)), KindNoSpace, "site-b: apply docs/plan.docx: no space left on device"},
		{"a bare errno is classified", syscall.EBUSY, KindBusy, "site-b: apply docs/plan.docx: device or resource busy"},
		{"an unknown error is other, keeping its text", errors.New("snappy: corrupt input"), KindOther, "site-b: apply docs/plan.docx: snappy: corrupt input"},
		{"a wire error with its own host keeps it", &Error{Kind: KindChanged, Op: "read", Host: "site-a", Path: "docs/a.txt"}, KindChanged, "site-a: read docs/a.txt: changed while being read"},
		{"a wire error without host, op or path gets ours", &Error{Kind: KindUnreachable, Msg: "site-a is not connected"}, KindUnreachable, "site-b: apply docs/plan.docx: site-a is not connected"},
		{"a wrapped wire error passes through", fmt.Errorf("fetch: %w", &Error{Kind: KindBusy, Host: "site-a"}), KindBusy, "site-a: apply docs/plan.docx: busy"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ToError("apply", "site-b", "docs/plan.docx", tt.err)
			if got.Kind != tt.kind {
				t.Errorf("kind %v, want %v", got.Kind, tt.kind)
			}
			if got.Error() != tt.want {
				t.Errorf("Error() = %q\nwant      %q", got, tt.want)
			}
			if !errors.Is(got, &Error{Kind: tt.kind}) {
				t.Errorf("errors.Is(%q, kind %v) is false", got, tt.kind)
			}
			if errors.Is(got, &Error{Kind: tt.kind + 1}) {
				t.Errorf("errors.Is(%q, kind %v) is true", got, tt.kind+1)
			}
		})
	}
}

func TestToErrorNil(t *testing.T) {
	if got := ToError("apply", "site-b", "a", nil); got != nil {
		t.Fatalf("ToError(nil) = %v", got)
	}
}

func TestToErrorCopies(t *testing.T) {
	orig := &Error{Kind: KindBusy}
	got := ToError("apply", "site-b", "a", orig)
	if got == orig || *orig != (Error{Kind: KindBusy}) {
		t.Fatalf("ToError changed its argument: %+v", orig)
	}
}

func TestErrorIs(t *testing.T) {
	notFound := &Error{Kind: KindNotFound, Op: "read", Host: "site-a", Path: "a"}
	tests := []struct {
		name   string
		err    error
		target error
		want   bool
	}{
		{"a kind-only target matches by kind", notFound, &Error{Kind: KindNotFound}, true},
		{"a kind-only target matches through wrapping", fmt.Errorf("sync docs: %w", notFound), &Error{Kind: KindNotFound}, true},
		{"a wire error decoded from JSON matches by kind", decodeError(t, `{"kind":2,"host":"site-a"}`), &Error{Kind: KindNotFound}, true},
		{"another kind does not match", notFound, &Error{Kind: KindPermission}, false},
		{"a target with more than a kind does not match by kind", notFound, &Error{Kind: KindNotFound, Host: "site-a"}, false},
		{"the same error matches itself", notFound, notFound, true},
		{"fs.ErrNotExist is not a wire kind", notFound, fs.ErrNotExist, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := errors.Is(tt.err, tt.target); got != tt.want {
				t.Errorf("errors.Is(%v, %v) = %v, want %v", tt.err, tt.target, got, tt.want)
			}
		})
	}
}

func decodeError(t *testing.T, s string) error {
	t.Helper()
	var e Error
	if err := json.Unmarshal([]byte(s), &e); err != nil {
		t.Fatal(err)
	}
	return &e
}

func TestErrorString(t *testing.T) {
	tests := []struct {
		name string
		err  Error
		want string
	}{
		{"host, op, path and kind read as a sentence", Error{Kind: KindPermission, Op: "apply", Host: "site-b", Path: "docs/plan.docx"}, "site-b: apply docs/plan.docx: permission denied"},
		{"a message replaces the kind's name", Error{Kind: KindPermission, Op: "hello", Host: "broker", Msg: "token refused by hub; copy the token from HUBDATA/token"}, "broker: hello: token refused by hub; copy the token from HUBDATA/token"},
		{"a path without an op stands alone", Error{Kind: KindBusy, Host: "site-b", Path: "a.txt"}, "site-b: a.txt: busy"},
		{"an op without a host or path leads", Error{Kind: KindTransient, Op: "scan"}, "scan: transient"},
		{"a bare kind is its name", Error{Kind: KindNoSpace}, "no space left"},
		{"the zero error says error", Error{}, "error"},
		{"an unknown kind from a newer peer is numbered", Error{Kind: 42, Host: "site-c"}, "site-c: kind(42)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("Error() = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestErrorJSON pins the encoding of an error, which crosses the wire.
func TestErrorJSON(t *testing.T) {
	e := Error{Kind: KindPermission, Op: "apply", Host: "site-b", Path: "docs/plan.docx", Msg: "permission denied"}
	const want = `{"kind":1,"op":"apply","host":"site-b","path":"docs/plan.docx","msg":"permission denied"}`
	if got := mustJSON(t, e); string(got) != want {
		t.Fatalf("encoded %s\nwant    %s", got, want)
	}
	if got := mustJSON(t, Error{Kind: KindBusy}); string(got) != `{"kind":3}` {
		t.Fatalf("encoded %s, want only the kind", got)
	}
}
