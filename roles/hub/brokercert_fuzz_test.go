package hub

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"strings"
	"testing"

	"github.com/peerlink/peerlink/web/api"
	"github.com/peerlink/peerlink/web/certs"
)

// FuzzBrokerCertRequest feeds POST /api/v1/broker-certs' request (names,
// one a line, and a CSR) to the hub: each is signed, or refused as invalid
// with a message, never a panic nor another kind of error; and what is
// signed carries exactly the names asked for.
func FuzzBrokerCertRequest(f *testing.F) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "broker"}}, key)
	if err != nil {
		f.Fatal(err)
	}
	csr := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
	for _, seed := range []struct{ names, csr string }{
		{"broker.example.com", csr}, {"127.0.0.1\n::1", csr}, {"", csr}, {"broker", "not a csr"},
		{"*.example.com", csr}, {"broker", strings.Replace(csr, "REQUEST", "REQUESTX", 2)}, {"a..b", csr},
	} {
		f.Add(seed.names, seed.csr)
	}
	ca, _, err := certs.LoadOrCreateAuthority(f.TempDir())
	if err != nil {
		f.Fatal(err)
	}
	h := openTestHub(f)
	h.enrol = &enrolment{ca: ca}
	f.Fuzz(func(t *testing.T, names, csr string) {
		var req api.BrokerCertRequest
		if names != "" {
			req.Names = strings.Split(names, "\n")
		}
		req.CSR = csr
		bc, err := h.CreateBrokerCert(req, "fuzz")
		if err != nil {
			if !errors.Is(err, api.ErrInvalid) || err.Error() == "" {
				t.Fatalf("%q, %q: %v, want an invalid request with a message", names, csr, err)
			}
			return
		}
		block, _ := pem.Decode([]byte(bc.Certificate))
		if block == nil {
			t.Fatalf("signed, but no certificate PEM: %q", bc.Certificate)
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		got := len(cert.DNSNames) + len(cert.IPAddresses)
		if got != len(req.Names) || checkHostNames(req.Names) != nil {
			t.Fatalf("signed %q for %d names (%v %v), want exactly the valid names asked for", names, got, cert.DNSNames, cert.IPAddresses)
		}
	})
}
