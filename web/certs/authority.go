package certs

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Roles a client certificate is issued for, in its subject's
// OrganizationalUnit; the broker takes a peer's role and name from there.
const (
	RoleAgent = "agent"
	RoleHub   = "hub"
)

// Lifetimes: the CA outlives any deployment's hardware; a server
// certificate is renewed at every start when it nears its end; an agent's
// certificate is long, since revocation, not expiry, ends it (the broker
// checks hub.db at every handshake).
const (
	caLifetime     = 20 * 365 * 24 * time.Hour
	serverLifetime = 2 * 365 * 24 * time.Hour
	ClientLifetime = 10 * 365 * 24 * time.Hour
)

// Authority is the hub's own certificate authority: it signs the hub's
// server certificate and every agent's client certificate.
type Authority struct {
	Cert *x509.Certificate
	Key  crypto.Signer
}

// Files of an authority under a hub's data directory (DATA/tls).
func CAFile(dir string) string     { return filepath.Join(dir, "ca.pem") }
func caKeyFile(dir string) string  { return filepath.Join(dir, "ca-key.pem") }
func serverFile(dir string) string { return filepath.Join(dir, "server.pem") }
func serverKey(dir string) string  { return filepath.Join(dir, "server-key.pem") }

// LoadOrCreateAuthority returns the CA kept in dir, creating it (key 0600)
// on first start. created reports whether it is new.
func LoadOrCreateAuthority(dir string) (a *Authority, created bool, err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, false, fmt.Errorf("TLS folder: %w", err)
	}
	cert, key, err := loadPair(CAFile(dir), caKeyFile(dir))
	if err == nil {
		return &Authority{Cert: cert, Key: key}, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, false, fmt.Errorf("the hub's CA in %s: %w: restore it from a backup; deleting ca.pem and ca-key.pem makes a new CA, after which every agent must join again", dir, err)
	}
	key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, false, err
	}
	host, _ := os.Hostname()
	tmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: "peerlink hub CA " + host, Organization: []string{"peerlink"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(caLifetime),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := sign(tmpl, key.Public(), nil, key)
	if err != nil {
		return nil, false, err
	}
	if err := writePair(CAFile(dir), caKeyFile(dir), der, key); err != nil {
		return nil, false, err
	}
	cert, err = x509.ParseCertificate(der)
	if err != nil {
		return nil, false, err
	}
	return &Authority{Cert: cert, Key: key}, true, nil
}

// Hash is the pin of a certificate that join codes carry: "sha256:" and
// the hex SHA-256 of its DER encoding.
func Hash(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// ServerConfig returns the hub's server TLS configuration: the certificate
// in dir if it names every one of names and has a while to live, else a
// new one signed by a. The chain served ends with the CA, so that a
// joining agent finds the certificate its join code pins.
func (a *Authority) ServerConfig(dir string, names []string) (*tls.Config, error) {
	cert, key, err := loadPair(serverFile(dir), serverKey(dir))
	if err != nil || !covers(cert, names) || time.Until(cert.NotAfter) < serverLifetime/4 || cert.CheckSignatureFrom(a.Cert) != nil {
		if cert, key, err = a.issueServer(dir, names); err != nil {
			return nil, err
		}
	}
	pair := tls.Certificate{Certificate: [][]byte{cert.Raw, a.Cert.Raw}, PrivateKey: key, Leaf: cert}
	return &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: MinVersion}, nil
}

func (a *Authority) issueServer(dir string, names []string) (*x509.Certificate, crypto.Signer, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	der, err := sign(serverTemplate(names), key.Public(), a.Cert, a.Key)
	if err != nil {
		return nil, nil, err
	}
	if err := writePair(serverFile(dir), serverKey(dir), der, key); err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	return cert, key, err
}

// SignServer issues a server certificate naming names (host names and IP
// addresses) for the public key of csr, whose signature must hold: a
// standalone broker's, whose key never leaves its host. Nothing of the
// CSR but its key is used.
func (a *Authority) SignServer(csr *x509.CertificateRequest, names []string) (*x509.Certificate, error) {
	if len(names) == 0 {
		return nil, errors.New("a server certificate names at least one host name or address")
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("certificate request: bad signature: %w", err)
	}
	der, err := sign(serverTemplate(names), csr.PublicKey, a.Cert, a.Key)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

// serverTemplate is a server certificate for names, the first its
// subject's.
func serverTemplate(names []string) *x509.Certificate {
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: names[0], Organization: []string{"peerlink"}},
		NotBefore:   time.Now().Add(-time.Hour),
		NotAfter:    time.Now().Add(serverLifetime),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	return tmpl
}

// covers reports whether c names every one of names.
func covers(c *x509.Certificate, names []string) bool {
	for _, n := range names {
		if c.VerifyHostname(n) != nil {
			return false
		}
	}
	return true
}

// SignClient issues a client certificate for name in role, for the public
// key of csr, whose signature must hold. The subject is ours: nothing of the
// CSR but its key is used.
func (a *Authority) SignClient(csr *x509.CertificateRequest, role, name string) (*x509.Certificate, error) {
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("certificate request: bad signature: %w", err)
	}
	return a.issueClient(csr.PublicKey, role, name)
}

// ClientPair issues a client certificate and its new key for the hub's own
// connection to its embedded broker; it lives in memory only.
func (a *Authority) ClientPair(role, name string) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	cert, err := a.issueClient(key.Public(), role, name)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{cert.Raw}, PrivateKey: key, Leaf: cert}, nil
}

func (a *Authority) issueClient(pub crypto.PublicKey, role, name string) (*x509.Certificate, error) {
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: name, OrganizationalUnit: []string{role}, Organization: []string{"peerlink"}},
		NotBefore:   time.Now().Add(-time.Hour),
		NotAfter:    time.Now().Add(ClientLifetime),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := sign(tmpl, pub, a.Cert, a.Key)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

// Identity is who a verified client certificate says its holder is.
type Identity struct {
	Role, Name string
	Serial     string // hex, as hub.db records the certificate
}

// IdentityOf reads the role and name of a client certificate the TLS
// layer verified.
func IdentityOf(c *x509.Certificate) (Identity, error) {
	if len(c.Subject.OrganizationalUnit) != 1 || c.Subject.CommonName == "" {
		return Identity{}, errors.New("the client certificate names no peerlink role and host: join again with a new join code")
	}
	return Identity{Role: c.Subject.OrganizationalUnit[0], Name: c.Subject.CommonName, Serial: SerialOf(c)}, nil
}

// SerialOf is a certificate's serial number in hex.
func SerialOf(c *x509.Certificate) string { return c.SerialNumber.Text(16) }

func sign(tmpl *x509.Certificate, pub crypto.PublicKey, parent *x509.Certificate, key crypto.Signer) ([]byte, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, err
	}
	tmpl.SerialNumber = serial
	if parent == nil {
		parent = tmpl
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, key)
	if err != nil {
		return nil, fmt.Errorf("sign certificate %s: %w", tmpl.Subject.CommonName, err)
	}
	return der, nil
}

// EncodeCert is a certificate in PEM.
func EncodeCert(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// EncodeKey is a private key in PEM (PKCS #8).
func EncodeKey(key crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// WriteFile writes b to path with mode 0600 through a temporary file, so a
// crash leaves the old file or the new one, never half of one.
func WriteFile(path string, b []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func writePair(certPath, keyPath string, der []byte, key crypto.Signer) error {
	kb, err := EncodeKey(key)
	if err != nil {
		return err
	}
	if err := WriteFile(keyPath, kb); err != nil {
		return fmt.Errorf("write %s: %w", keyPath, err)
	}
	if err := WriteFile(certPath, EncodeCert(der)); err != nil {
		return fmt.Errorf("write %s: %w", certPath, err)
	}
	return nil
}

// LoadPair reads a certificate and its key from PEM files.
func LoadPair(certPath, keyPath string) (*x509.Certificate, crypto.Signer, error) {
	return loadPair(certPath, keyPath)
}

func loadPair(certPath, keyPath string) (*x509.Certificate, crypto.Signer, error) {
	cb, err := os.ReadFile(certPath)
	if err != nil {
		return nil, nil, err
	}
	kb, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, nil, err
	}
	certs, err := parsePEM(certPath, cb)
	if err != nil {
		return nil, nil, err
	}
	block, _ := pem.Decode(kb)
	if block == nil || !strings.HasSuffix(block.Type, "PRIVATE KEY") {
		return nil, nil, fmt.Errorf("%s: no PEM private key in it", keyPath)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", keyPath, err)
	}
	signer, ok := k.(crypto.Signer)
	if !ok {
		return nil, nil, fmt.Errorf("%s: not a signing key", keyPath)
	}
	return certs[0], signer, nil
}

// ParseCert parses the first certificate of a PEM text.
func ParseCert(name string, b []byte) (*x509.Certificate, error) {
	cs, err := parsePEM(name, b)
	if err != nil {
		return nil, err
	}
	return cs[0], nil
}
