package enrol

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/peerlink/peerlink/web/certs"
	"github.com/peerlink/peerlink/wire"
)

// Path is where the hub serves joins, on its console and API port.
const Path = "/api/v1/join"

// MaxRequest bounds a join request: a P-256 CSR is under 1 KiB in PEM.
const MaxRequest = 16 << 10

// Request is what a joining agent sends: the code's host and secret and a
// certificate request for the key it made (the key never leaves it).
type Request struct {
	Name   string `json:"name"`
	Secret string `json:"secret"`
	CSR    string `json:"csr"` // PEM, CERTIFICATE REQUEST
}

// Response is the hub's answer: the agent's certificate, the CA that
// signed it, and where the agent finds the broker.
type Response struct {
	Certificate string `json:"certificate"` // PEM
	CA          string `json:"ca"`          // PEM
	BrokerURL   string `json:"broker_url"`
}

// ErrBadRequest is wrapped by every failure to decode a join request.
var ErrBadRequest = errors.New("bad join request")

// DecodeRequest reads one join request from r, at most MaxRequest bytes,
// and checks it: the host name, the secret's form and the certificate
// request, whose signature must hold and whose key must be of a kind and
// size the hub signs. It does not look the secret up.
func DecodeRequest(r io.Reader) (Request, *x509.CertificateRequest, error) {
	var req Request
	dec := json.NewDecoder(io.LimitReader(r, MaxRequest+1))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return req, nil, fmt.Errorf("%w: %v", ErrBadRequest, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return req, nil, fmt.Errorf("%w: the body holds more than one JSON value, or is over %d bytes", ErrBadRequest, MaxRequest)
	}
	if err := wire.CheckName("host", req.Name); err != nil {
		return req, nil, fmt.Errorf("%w: %w", ErrBadRequest, err)
	}
	if err := CheckSecret(req.Secret); err != nil {
		return req, nil, fmt.Errorf("%w: %w", ErrBadRequest, err)
	}
	block, _ := pem.Decode([]byte(req.CSR))
	if block == nil || block.Type != "CERTIFICATE REQUEST" {
		return req, nil, fmt.Errorf("%w: csr is not a PEM CERTIFICATE REQUEST", ErrBadRequest)
	}
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return req, nil, fmt.Errorf("%w: csr: %v", ErrBadRequest, err)
	}
	if err := csr.CheckSignature(); err != nil {
		return req, nil, fmt.Errorf("%w: csr signature: %v", ErrBadRequest, err)
	}
	if err := CheckKey(csr.PublicKey); err != nil {
		return req, nil, fmt.Errorf("%w: %w", ErrBadRequest, err)
	}
	return req, csr, nil
}

// CheckKey reports whether the hub signs a key of k's kind and size.
func CheckKey(k crypto.PublicKey) error {
	switch k := k.(type) {
	case *ecdsa.PublicKey:
		if k.Curve.Params().BitSize < 256 {
			return errors.New("csr: an ECDSA key of fewer than 256 bits")
		}
	case *rsa.PublicKey:
		if k.N.BitLen() < 2048 {
			return errors.New("csr: an RSA key of fewer than 2048 bits")
		}
	case ed25519.PublicKey:
	default:
		return fmt.Errorf("csr: key of type %T: use ECDSA, Ed25519 or RSA", k)
	}
	return nil
}

// NewCSR is the certificate request for key that Join sends.
func NewCSR(name string, key crypto.Signer) (string, error) {
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: name}}, key)
	if err != nil {
		return "", err
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})), nil
}

// Joined is what a successful join leaves the agent with.
type Joined struct {
	Response
	Cert *x509.Certificate // the agent's, parsed
	// Anchor is the certificate the code pinned, as the hub served it: the
	// agent trusts the hub's servers by it from now on.
	Anchor *x509.Certificate
}

// Join enrols the key's holder with the hub at hubURL using code. The TLS
// handshake must present the code's pinned CA before anything is sent; a
// server that does not gets no request at all.
func Join(ctx context.Context, hubURL string, code Code, key crypto.Signer) (Joined, error) {
	u, err := joinURL(hubURL)
	if err != nil {
		return Joined{}, err
	}
	csr, err := NewCSR(code.Name, key)
	if err != nil {
		return Joined{}, err
	}
	body, err := json.Marshal(Request{Name: code.Name, Secret: code.Secret, CSR: csr})
	if err != nil {
		return Joined{}, err
	}
	var anchor *x509.Certificate
	tr := &http.Transport{TLSClientConfig: certs.PinnedCA(code.CAHash, &anchor), Proxy: http.ProxyFromEnvironment,
		TLSHandshakeTimeout: 15 * time.Second, ForceAttemptHTTP2: false}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return Joined{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		if errors.Is(err, certs.ErrPinMismatch) {
			return Joined{}, fmt.Errorf("join %s: %w: nothing was sent; check that --hub names your hub and that the code is for it (a man in the middle, or another server, answered)", u, certs.ErrPinMismatch)
		}
		if strings.Contains(err.Error(), "server gave HTTP response") {
			return Joined{}, fmt.Errorf("join %s: the hub serves plain HTTP: joining needs TLS (the hub's default); give --hub https://... of a hub without --insecure-plain", u)
		}
		return Joined{}, fmt.Errorf("join %s: %w: is the hub running, and is --hub its console and API address (https://HUB:8181)?", u, err)
	}
	defer resp.Body.Close()
	return readResponse(resp, u, anchor)
}

func readResponse(resp *http.Response, u string, anchor *x509.Certificate) (Joined, error) {
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return Joined{}, fmt.Errorf("join %s: %w", u, err)
	}
	if resp.StatusCode != http.StatusOK {
		var p struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(b, &p) != nil || p.Error == "" {
			p.Error = strings.TrimSpace(string(b))
		}
		return Joined{}, fmt.Errorf("join refused by the hub (HTTP %d): %s", resp.StatusCode, p.Error)
	}
	var j Joined
	if err := json.Unmarshal(b, &j.Response); err != nil {
		return Joined{}, fmt.Errorf("join %s: bad answer: %w", u, err)
	}
	if j.Cert, err = certs.ParseCert("the hub's answer", []byte(j.Certificate)); err != nil {
		return Joined{}, fmt.Errorf("join %s: %w", u, err)
	}
	j.Anchor = anchor
	return j, nil
}

// joinURL is hubURL's join endpoint; the hub's address must be https.
func joinURL(hubURL string) (string, error) {
	s := strings.TrimSpace(hubURL)
	if !strings.Contains(s, "://") {
		s = "https://" + s
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("--hub %q: give the hub's console and API address, https://HUB:8181", hubURL)
	}
	if u.Scheme != "https" {
		return "", fmt.Errorf("--hub %q: joining needs https:// (the join code pins the hub's TLS certificate)", hubURL)
	}
	u.Path = Path
	return u.String(), nil
}
