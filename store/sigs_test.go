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
