package certs

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
)

// ErrPinMismatch is wrapped when a server's chain holds no certificate of
// the hash a join code pins: another server than the hub answered (a man
// in the middle, or the wrong address).
var ErrPinMismatch = errors.New("the server's certificates do not match the join code's CA hash")

// PinnedCA returns a client configuration that trusts a server only if
// its chain holds a certificate whose Hash is hash and its leaf chains to
// that certificate. It runs inside the TLS handshake, so nothing of the
// application (no HTTP request) is sent to a server that fails it. The
// server's name is not checked: the pin says who the server is, as
// kubeadm's discovery hash does. anchor receives the pinned certificate.
func PinnedCA(hash string, anchor **x509.Certificate) *tls.Config {
	return &tls.Config{
		MinVersion: MinVersion,
		// Verification is replaced, not skipped: VerifyConnection runs on
		// every handshake and accepts the pinned chain only.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			var pinned *x509.Certificate
			for _, c := range cs.PeerCertificates {
				if Hash(c) == hash {
					pinned = c
				}
			}
			if pinned == nil || len(cs.PeerCertificates) == 0 {
				return &tls.CertificateVerificationError{UnverifiedCertificates: cs.PeerCertificates, Err: ErrPinMismatch}
			}
			roots := x509.NewCertPool()
			roots.AddCert(pinned)
			inter := x509.NewCertPool()
			for _, c := range cs.PeerCertificates[1:] {
				inter.AddCert(c)
			}
			if _, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter}); err != nil {
				return &tls.CertificateVerificationError{UnverifiedCertificates: cs.PeerCertificates, Err: fmt.Errorf("%w: %w", ErrPinMismatch, err)}
			}
			if anchor != nil {
				*anchor = pinned
			}
			return nil
		},
	}
}

// Anchor is the certificate a join code pins among those a server serves:
// the last of its chain (the hub's own CA, or the top of a company chain
// given with --tls-cert).
func Anchor(conf *tls.Config) (*x509.Certificate, error) {
	if len(conf.Certificates) == 0 || len(conf.Certificates[0].Certificate) == 0 {
		return nil, errors.New("the server configuration has no certificate")
	}
	chain := conf.Certificates[0].Certificate
	return x509.ParseCertificate(chain[len(chain)-1])
}

// RequireClientCerts has conf ask every client for a certificate and
// verify any it is given against ca. A client without one is still
// served (a browser on the console, a legacy agent with a token); a
// client with one that does not verify is refused in the handshake.
func RequireClientCerts(conf *tls.Config, ca *x509.Certificate) {
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	conf.ClientCAs = pool
	conf.ClientAuth = tls.VerifyClientCertIfGiven
}
