package natslink

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/peerlink/peerlink/roles/broker"
	"github.com/peerlink/peerlink/web/certs"
	"github.com/peerlink/peerlink/wire"
)

// throwawayTLS writes into dir a CA (ca.pem) and a certificate for
// 127.0.0.1 that it signed (server.pem, server-key.pem).
func throwawayTLS(t *testing.T, dir string) (ca, cert, key string) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "throwaway test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	srvKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	srvTmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTmpl, caCert, &srvKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(srvKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, cert, key = filepath.Join(dir, "ca.pem"), filepath.Join(dir, "server.pem"), filepath.Join(dir, "server-key.pem")
	for path, block := range map[string]*pem.Block{ca: {Type: "CERTIFICATE", Bytes: caDER}, cert: {Type: "CERTIFICATE", Bytes: srvDER}, key: {Type: "EC PRIVATE KEY", Bytes: keyDER}} {
		if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return ca, cert, key
}

// A NATS server that requires TLS, with a certificate of a private CA: a
// peer given that CA (the agent's --ca) connects by a tls:// URL; without
// the CA the dial fails as untrusted and says to give --ca; by a nats://
// URL, where the CA is not used, it says to write tls://.
func TestTLSWithPrivateCA(t *testing.T) {
	t.Parallel()
	ca, cert, key := throwawayTLS(t, t.TempDir())
	f := newFixture(t, fmt.Sprintf("tls { cert_file: %q, key_file: %q }", cert, key))
	conf, err := certs.Client(ca)
	if err != nil {
		t.Fatal(err)
	}
	tlsURL := strings.Replace(f.url, "nats://", "tls://", 1)
	dial := func(name, url string, conf *tls.Config) (*broker.Client, error) {
		role := wire.RoleAgent
		if name == wire.HubName {
			role = wire.RoleHub
		}
		kp, _ := KeyFor(f.secret, name)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, err := Dial(ctx, Options{URL: url, Hello: wire.Hello{Role: role, Name: name, Version: "test"}, Key: kp, TLS: conf, Log: zerolog.Nop(), t: testTiming})
		if err == nil {
			t.Cleanup(func() { c.Close() })
		}
		return c, err
	}
	hub, err := dial(wire.HubName, tlsURL, conf)
	if err != nil {
		t.Fatalf("the hub over %s with the CA: %v", tlsURL, err)
	}
	a, err := dial("site-a", tlsURL, conf)
	if err != nil {
		t.Fatalf("site-a over %s with the CA: %v", tlsURL, err)
	}
	if p, ok := next(t, hub).Msg.(*wire.Peer); !ok || p.Name != "site-a" || !p.Up {
		t.Fatalf("hub got %+v, want site-a up", p)
	}
	go func() {
		in := next(t, a)
		_ = a.Reply(context.Background(), in, &wire.OK{}, []byte("over TLS"))
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if r, err := hub.Request(ctx, "site-a", &wire.OK{}, nil); err != nil || string(r.Data) != "over TLS" {
		t.Fatalf("request over TLS: %v %q", err, r.Data)
	}

	system, err := certs.Client("")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []*tls.Config{nil, system} {
		_, err = dial("site-b", tlsURL, c)
		if !errors.Is(err, broker.ErrUntrusted) || !strings.Contains(err.Error(), "--ca") {
			t.Errorf("site-b without the CA: %v, want untrusted, saying --ca", err)
		}
	}
	if _, err = dial("site-b", f.url, conf); !errors.Is(err, broker.ErrUntrusted) || !strings.Contains(err.Error(), "tls://") {
		t.Errorf("site-b by %s: %v, want untrusted, saying to write tls://", f.url, err)
	}
}
