package certs

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
)

// MinVersion is the oldest protocol version peerlink speaks or accepts.
const MinVersion = tls.VersionTLS12

// Server loads a certificate (PEM, leaf first, then any intermediates) and
// its private key, and returns a server configuration serving them. Errors
// name the file at fault.
func Server(certFile, keyFile string) (*tls.Config, error) {
	if certFile == "" || keyFile == "" {
		return nil, errors.New("--tls-cert and --tls-key go together: give both (or neither, for plain text)")
	}
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("--tls-cert: %w", err)
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("--tls-key: %w", err)
	}
	if _, err := parsePEM(certFile, certPEM); err != nil {
		return nil, fmt.Errorf("--tls-cert: %w", err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("--tls-key %s with --tls-cert %s: %w", keyFile, certFile, err)
	}
	return &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: MinVersion}, nil
}

// Client returns a client configuration that trusts the system's roots
// and, if caFile is not empty, every certificate in that PEM file.
func Client(caFile string) (*tls.Config, error) {
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if caFile != "" {
		b, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("--ca: %w", err)
		}
		certs, err := parsePEM(caFile, b)
		if err != nil {
			return nil, fmt.Errorf("--ca: %w", err)
		}
		for _, c := range certs {
			pool.AddCert(c)
		}
	}
	return &tls.Config{RootCAs: pool, MinVersion: MinVersion}, nil
}

// Pinned returns a client configuration that accepts exactly the leaf
// certificate of server and nothing else, whatever name it is dialled by.
// A hub uses it to reach its own embedded broker over loopback: the
// certificate names the hub as agents know it, not 127.0.0.1, and pinning
// the very certificate the hub serves is stricter than any CA.
func Pinned(server *tls.Config) (*tls.Config, error) {
	if len(server.Certificates) == 0 || len(server.Certificates[0].Certificate) == 0 {
		return nil, errors.New("pin: the server configuration has no certificate")
	}
	leaf := server.Certificates[0].Certificate[0]
	return &tls.Config{
		MinVersion: MinVersion,
		// Name and chain checks are replaced, not skipped: VerifyConnection
		// runs on every handshake and accepts one certificate only.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 || !bytes.Equal(cs.PeerCertificates[0].Raw, leaf) {
				// As a certificate error, so that IsUntrusted and the logs
				// call it one.
				return &tls.CertificateVerificationError{UnverifiedCertificates: cs.PeerCertificates,
					Err: errors.New("the server's certificate is not the one this process serves")}
			}
			return nil
		},
	}, nil
}

// parsePEM returns every CERTIFICATE block of a PEM file; a file with none,
// or with one that does not parse, is an error naming the file.
func parsePEM(name string, b []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for {
		var block *pem.Block
		block, b = pem.Decode(b)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: certificate %d: %w", name, len(out)+1, err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no PEM certificate (-----BEGIN CERTIFICATE-----) in it", name)
	}
	return out, nil
}

// IsUntrusted reports whether err is a failure to verify the other side's
// certificate: an unknown authority, a wrong name, an expired certificate.
func IsUntrusted(err error) bool {
	var v *tls.CertificateVerificationError
	var ua x509.UnknownAuthorityError
	var he x509.HostnameError
	var ci x509.CertificateInvalidError
	return errors.As(err, &v) || errors.As(err, &ua) || errors.As(err, &he) || errors.As(err, &ci)
}

// LoadCA reads the first certificate of a PEM file, the CA a broker
// verifies client certificates against (--client-ca).
func LoadCA(file string) (*x509.Certificate, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("--client-ca: %w", err)
	}
	c, err := ParseCert(file, b)
	if err != nil {
		return nil, fmt.Errorf("--client-ca: %w", err)
	}
	if !c.IsCA {
		return nil, fmt.Errorf("--client-ca %s: not a CA certificate: give the hub's DATA/tls/ca.pem", file)
	}
	return c, nil
}
