package certs

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"testing"
)

// A broker's certificate is for the key of its request, names what it was
// asked to and serves, not authenticates a client.
func TestSignServerUsesTheRequestsKeyOnly(t *testing.T) {
	a, _, err := LoadOrCreateAuthority(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: "hub", OrganizationalUnit: []string{RoleHub}}, DNSNames: []string{"evil.example"}}, key)
	if err != nil {
		t.Fatal(err)
	}
	csr, _ := x509.ParseCertificateRequest(der)
	c, err := a.SignServer(csr, []string{"broker.example.com", "192.0.2.7"})
	if err != nil {
		t.Fatal(err)
	}
	if !c.PublicKey.(*ecdsa.PublicKey).Equal(&key.PublicKey) {
		t.Error("the certificate is not for the request's key")
	}
	if err := c.VerifyHostname("192.0.2.7"); err != nil {
		t.Error(err)
	}
	if c.VerifyHostname("evil.example") == nil {
		t.Error("the certificate names what the request asked for, not what the hub was told")
	}
	if _, err := IdentityOf(c); err == nil {
		t.Error("a server certificate carries a peer identity")
	}
	pool := x509.NewCertPool()
	pool.AddCert(a.Cert)
	if _, err := c.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err == nil {
		t.Error("a broker's certificate verifies as a client certificate")
	}
	if _, err := c.Verify(x509.VerifyOptions{Roots: pool, DNSName: "broker.example.com"}); err != nil {
		t.Errorf("as a server certificate: %v", err)
	}
	csr.Signature[len(csr.Signature)-1] ^= 1
	if _, err := a.SignServer(csr, []string{"broker"}); err == nil {
		t.Error("a request with a bad signature was signed")
	}
}
