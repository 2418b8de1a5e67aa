package enrol

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func validRequest(t testing.TB) []byte {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	csr, err := NewCSR("site-a", key)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(Request{Name: "site-a", Secret: strings.Repeat("ab", secretLen), CSR: csr})
	return b
}

func TestDecodeRequest(t *testing.T) {
	good := validRequest(t)
	if _, csr, err := DecodeRequest(bytes.NewReader(good)); err != nil || csr == nil {
		t.Fatalf("valid request: %v", err)
	}
	for name, body := range map[string]string{
		"empty":        "",
		"not json":     "hello",
		"two values":   string(good) + string(good),
		"unknown":      `{"name":"site-a","secret":"` + strings.Repeat("ab", secretLen) + `","csr":"","x":1}`,
		"bad name":     `{"name":"../x","secret":"` + strings.Repeat("ab", secretLen) + `","csr":""}`,
		"short secret": `{"name":"site-a","secret":"abcd","csr":""}`,
		"no csr":       `{"name":"site-a","secret":"` + strings.Repeat("ab", secretLen) + `","csr":"x"}`,
		"huge":         `{"name":"` + strings.Repeat("a", MaxRequest) + `"}`,
	} {
		if _, _, err := DecodeRequest(strings.NewReader(body)); !errors.Is(err, ErrBadRequest) {
			t.Errorf("%s: err %v, want ErrBadRequest", name, err)
		}
	}
}

func TestParseCode(t *testing.T) {
	c, err := NewCode("site-a", "sha256:"+strings.Repeat("0f", 32))
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseCode(" " + c.String() + "\n")
	if err != nil || back != c {
		t.Fatalf("round trip: %+v, %v; want %+v", back, err, c)
	}
	for _, bad := range []string{"", "plj1:site-a", "plj2:site-a:" + c.Secret + ":" + strings.Repeat("0f", 32),
		"plj1:site-a:zz:" + strings.Repeat("0f", 32), "plj1:site-a:" + c.Secret + ":abc", "plj1:-a:" + c.Secret + ":" + strings.Repeat("0f", 32)} {
		if _, err := ParseCode(bad); !errors.Is(err, ErrBadCode) {
			t.Errorf("ParseCode(%q) = %v, want ErrBadCode", bad, err)
		}
	}
	if _, err := NewCode("hub", "sha256:x"); err == nil {
		t.Error("a join code for the hub's own name was made")
	}
}

// FuzzJoinRequest feeds the hub's join decoder arbitrary bodies: it must
// never panic, and whatever it accepts must be a request the hub can act
// on (a valid name and secret, a CSR whose signature holds).
func FuzzJoinRequest(f *testing.F) {
	f.Add(validRequest(f))
	f.Add([]byte(`{"name":"a","secret":"00","csr":"-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n"}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		req, csr, err := DecodeRequest(bytes.NewReader(b))
		if err != nil {
			if !errors.Is(err, ErrBadRequest) {
				t.Fatalf("error %v does not wrap ErrBadRequest", err)
			}
			return
		}
		if csr == nil || csr.CheckSignature() != nil || CheckSecret(req.Secret) != nil {
			t.Fatalf("accepted a request the hub cannot act on: %+v", req)
		}
	})
}
