package hub

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"strings"

	"github.com/peerlink/peerlink/web/api"
	"github.com/peerlink/peerlink/web/certs"
	"github.com/peerlink/peerlink/web/enrol"
)

// maxBrokerNames bounds the names one broker certificate carries.
const maxBrokerNames = 16

// CreateBrokerCert has the hub's CA sign a standalone broker's server
// certificate for the key of req's CSR: the key is made on the broker's
// host and never leaves it (`peerlink broker-cert create`).
func (h *Hub) CreateBrokerCert(req api.BrokerCertRequest, user string) (api.BrokerCert, error) {
	e := h.enrol
	if e == nil {
		return api.BrokerCert{}, fmt.Errorf("%w: broker certificates need the hub's TLS and its CA: this hub runs with --insecure-plain, or with --broker-url ws://", api.ErrInvalid)
	}
	if err := checkHostNames(req.Names); err != nil {
		return api.BrokerCert{}, fmt.Errorf("%w: %w", api.ErrInvalid, err)
	}
	block, _ := pem.Decode([]byte(req.CSR))
	if block == nil || block.Type != "CERTIFICATE REQUEST" {
		return api.BrokerCert{}, fmt.Errorf("%w: csr is not a PEM CERTIFICATE REQUEST: run `peerlink broker-cert create` of the hub's version", api.ErrInvalid)
	}
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err == nil {
		err = enrol.CheckKey(csr.PublicKey)
	}
	if err != nil {
		return api.BrokerCert{}, fmt.Errorf("%w: csr: %w", api.ErrInvalid, err)
	}
	cert, err := e.ca.SignServer(csr, req.Names)
	if err != nil {
		return api.BrokerCert{}, fmt.Errorf("%w: %w", api.ErrInvalid, err)
	}
	h.log.Info().Strs("names", req.Names).Str("serial", certs.SerialOf(cert)).Str("by", user).Msg("broker certificate issued")
	return api.BrokerCert{Certificate: string(certs.EncodeCert(cert.Raw)), CA: string(certs.EncodeCert(e.ca.Cert.Raw)), Expires: cert.NotAfter}, nil
}

// checkHostNames reports whether names are 1 to maxBrokerNames IP
// addresses or DNS names a certificate may carry.
func checkHostNames(names []string) error {
	if len(names) == 0 || len(names) > maxBrokerNames {
		return fmt.Errorf("%d names: give 1 to %d host names or IP addresses the broker is reached by (--name, --ip)", len(names), maxBrokerNames)
	}
	for _, n := range names {
		if net.ParseIP(n) != nil {
			continue
		}
		if err := checkDNSName(n); err != nil {
			return err
		}
	}
	return nil
}

func checkDNSName(n string) error {
	bad := fmt.Errorf("name %.80q: not a host name (letters, digits and '-', in labels joined by '.') nor an IP address", n)
	if n == "" || len(n) > 253 {
		return bad
	}
	for _, label := range strings.Split(n, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return bad
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return bad
			}
		}
	}
	return nil
}
