package store

import (
	"bytes"
	"testing"
)

// A signature comes back as recorded, holds only for the very file state
// it was recorded for, and goes with its path's cache record and with its
// session.
func TestSignaturesFollowTheCache(t *testing.T) {
	a, _ := newAgent(t)
	sig := Signature{Size: 3 << 20, Mtime: 17, Ctime: 18, Ino: 19, Spans: bytes.Repeat([]byte{7}, 40)}
	if err := a.PutSignatures("s", []PathSignature{{"a/big", sig}, {"b/big", sig}}); err != nil {
		t.Fatal(err)
	}
	got, ok := a.Signature("s", "a/big")
	if !ok || got.Size != sig.Size || got.Ino != sig.Ino || !bytes.Equal(got.Spans, sig.Spans) {
		t.Fatalf("signature %+v, %v; want %+v", got, ok, sig)
	}
	if !got.Holds(Cached{Size: 3 << 20, Mtime: 17, Ctime: 18, Ino: 19}) || got.Holds(Cached{Size: 3 << 20, Mtime: 17, Ctime: 99, Ino: 19}) {
		t.Error("a signature must hold for its own state and only for it")
	}
	if _, ok := a.Signature("other", "a/big"); ok {
		t.Error("another session's signature found")
	}
	if err := a.UpdateCache("s", nil, []string{"a/big"}); err != nil {
		t.Fatal(err)
	}
	if _, ok := a.Signature("s", "a/big"); ok {
		t.Error("the signature of a path removed from the cache is still there")
	}
	if err := a.DeleteSession("s"); err != nil {
		t.Fatal(err)
	}
	if _, ok := a.Signature("s", "b/big"); ok {
		t.Error("a deleted session's signature is still there")
	}
	if err := a.PutSignatures("s", []PathSignature{{"../x", sig}}); err == nil {
		t.Error("a signature on a bad path was accepted")
	}
}

// A basis's signature holds across a change of ctime alone (a lock), not
// across one of size, mtime or inode.
func TestSignatureHoldsBasis(t *testing.T) {
	s := Signature{Size: 10, Mtime: 20, Ctime: 30, Ino: 40}
	for _, tc := range []struct {
		name string
		c    Cached
		want bool
	}{
		{"the same state", Cached{Size: 10, Mtime: 20, Ctime: 30, Ino: 40}, true},
		{"a lock's new ctime", Cached{Size: 10, Mtime: 20, Ctime: 31, Ino: 40}, true},
		{"another size", Cached{Size: 11, Mtime: 20, Ctime: 31, Ino: 40}, false},
		{"another mtime", Cached{Size: 10, Mtime: 21, Ctime: 31, Ino: 40}, false},
		{"another inode", Cached{Size: 10, Mtime: 20, Ctime: 30, Ino: 41}, false},
	} {
		if got := s.HoldsBasis(tc.c); got != tc.want {
			t.Errorf("%s: %t, want %t", tc.name, got, tc.want)
		}
	}
}
