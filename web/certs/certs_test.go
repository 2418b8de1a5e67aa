package certs

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io/fs"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// pki is a CA and a server certificate for 127.0.0.1 it signed, as files.
type pki struct {
	ca, cert, key string
}

func newPKI(t *testing.T) pki {
	t.Helper()
	dir := t.TempDir()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalPKCS8PrivateKey(key)
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	return pki{ca: write("ca.crt", "CERTIFICATE", caDER), cert: write("srv.crt", "CERTIFICATE", der), key: write("srv.key", "PRIVATE KEY", keyDER)}
}

// serve starts an HTTPS server with conf and returns its URL.
func serve(t *testing.T, conf *tls.Config) string {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	srv.TLS = conf
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv.URL
}

func get(conf *tls.Config, url string) error {
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: conf}}
	resp, err := c.Get(url)
	if err == nil {
		resp.Body.Close()
	}
	return err
}

func TestClientTrustsTheCAFileAndOnlyWithIt(t *testing.T) {
	p := newPKI(t)
	srvConf, err := Server(p.cert, p.key)
	if err != nil {
		t.Fatal(err)
	}
	url := serve(t, srvConf)
	with, err := Client(p.ca)
	if err != nil {
		t.Fatal(err)
	}
	if err := get(with, url); err != nil {
		t.Errorf("with the CA file: %v", err)
	}
	without, err := Client("")
	if err != nil {
		t.Fatal(err)
	}
	if err := get(without, url); err == nil || !IsUntrusted(err) {
		t.Errorf("without the CA file: %v, want an untrusted certificate error", err)
	}
	if with.MinVersion != tls.VersionTLS12 || srvConf.MinVersion != tls.VersionTLS12 {
		t.Errorf("MinVersion client %x server %x, want TLS 1.2", with.MinVersion, srvConf.MinVersion)
	}
	old := with.Clone()
	old.MaxVersion = tls.VersionTLS11
	if err := get(old, url); err == nil {
		t.Error("a TLS 1.1 client was served")
	}
}

func TestClientRefusesABadCAFile(t *testing.T) {
	p := newPKI(t)
	dir := t.TempDir()
	garbled := filepath.Join(dir, "garbled.pem")
	os.WriteFile(garbled, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("not DER")}), 0o600)
	empty := filepath.Join(dir, "empty.pem")
	os.WriteFile(empty, []byte("hello\n"), 0o600)
	for _, tc := range []struct {
		name, file, want string
	}{
		{"a missing file is named", filepath.Join(dir, "missing.pem"), "--ca: open " + filepath.Join(dir, "missing.pem")},
		{"a file without certificates is named", empty, "--ca: " + empty + ": no PEM certificate"},
		{"a key is not a certificate", p.key, "--ca: " + p.key + ": no PEM certificate"},
		{"an unparsable certificate is named", garbled, "--ca: " + garbled + ": certificate 1: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conf, err := Client(tc.file)
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("Client(%s) = %v, %v; want an error starting %q", tc.file, conf, err, tc.want)
			}
		})
	}
	if _, err := Client(filepath.Join(dir, "missing.pem")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing CA file: %v, want fs.ErrNotExist kept", err)
	}
}

func TestServerNamesTheFileAtFault(t *testing.T) {
	p := newPKI(t)
	other := newPKI(t)
	for _, tc := range []struct {
		name, cert, key, want string
	}{
		{"cert without key", p.cert, "", "--tls-cert and --tls-key go together"},
		{"key without cert", "", p.key, "--tls-cert and --tls-key go together"},
		{"missing cert", p.cert + ".no", p.key, "--tls-cert: open " + p.cert + ".no"},
		{"missing key", p.cert, p.key + ".no", "--tls-key: open " + p.key + ".no"},
		{"a key for the cert", p.key, p.key, "--tls-cert: " + p.key + ": no PEM certificate"},
		{"another certificate's key", p.cert, other.key, "--tls-key " + other.key + " with --tls-cert " + p.cert + ": "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Server(tc.cert, tc.key); err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("Server(%q, %q) = %v, want an error starting %q", tc.cert, tc.key, err, tc.want)
			}
		})
	}
}

func TestPinnedAcceptsOnlyItsOwnCertificate(t *testing.T) {
	p, other := newPKI(t), newPKI(t)
	mine, err := Server(p.cert, p.key)
	if err != nil {
		t.Fatal(err)
	}
	theirs, err := Server(other.cert, other.key)
	if err != nil {
		t.Fatal(err)
	}
	pin, err := Pinned(mine)
	if err != nil {
		t.Fatal(err)
	}
	// By a name the certificate does not hold: the pin, not the name, decides.
	byName := pin.Clone()
	byName.ServerName = "not-in-the-certificate.example"
	if err := get(byName, serve(t, mine)); err != nil {
		t.Errorf("pinned client to its own certificate: %v", err)
	}
	if err := get(pin, serve(t, theirs)); err == nil || !strings.Contains(err.Error(), "not the one this process serves") {
		t.Errorf("pinned client to another certificate: %v, want a refusal", err)
	}
}
