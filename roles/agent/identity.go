package agent

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/rs/zerolog"

	"github.com/peerlink/peerlink/web/certs"
	"github.com/peerlink/peerlink/web/enrol"
)

// Identity is the credential an agent got by joining: its certificate and
// key, the certificate it trusts the hub's servers by (the one its join
// code pinned), and where the broker is. It lives in DATA/identity, every
// file 0600.
type Identity struct {
	Name      string `json:"name"`
	BrokerURL string `json:"broker_url"`
	HubURL    string `json:"hub_url"`

	cert   tls.Certificate
	anchor *x509.Certificate
	ca     *x509.Certificate // the hub's CA, which signs a standalone broker's certificate too
}

func identityDir(data string) string { return filepath.Join(data, "identity") }

// Files of an identity.
const (
	idCert   = "agent.pem"
	idKey    = "agent-key.pem"
	idAnchor = "hub-ca.pem"
	idCA     = "ca.pem"
	idInfo   = "identity.json"
)

// JoinHub enrols this host with the hub at hubURL using a join code, and
// stores the identity it gets under data. The key is made here and never
// leaves the host.
func JoinHub(ctx context.Context, data, hubURL, code string, log zerolog.Logger) (*Identity, error) {
	c, err := enrol.ParseCode(code)
	if err != nil {
		return nil, fmt.Errorf("--join: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	j, err := enrol.Join(ctx, hubURL, c, key)
	if err != nil {
		return nil, err
	}
	dir := identityDir(data)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("agent identity: %w", err)
	}
	kb, err := certs.EncodeKey(key)
	if err != nil {
		return nil, err
	}
	id := &Identity{Name: c.Name, BrokerURL: j.BrokerURL, HubURL: hubURL}
	info, _ := json.MarshalIndent(id, "", "  ")
	// The information file last: an identity without it is not one, so a
	// join cut short is joined again, not half used.
	for _, f := range []struct {
		name string
		b    []byte
	}{{idKey, kb}, {idCert, []byte(j.Certificate)}, {idAnchor, certs.EncodeCert(j.Anchor.Raw)}, {idCA, []byte(j.CA)}, {idInfo, info}} {
		if err := certs.WriteFile(filepath.Join(dir, f.name), f.b); err != nil {
			return nil, fmt.Errorf("agent identity: %w", err)
		}
	}
	log.Info().Str("name", c.Name).Str("broker", j.BrokerURL).Str("dir", dir).Msg("joined the hub: this agent connects with its own certificate from now on")
	return LoadIdentity(data)
}

// LoadIdentity reads the identity under data; nil, nil if the agent never
// joined.
func LoadIdentity(data string) (*Identity, error) {
	dir := identityDir(data)
	b, err := os.ReadFile(filepath.Join(dir, idInfo))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("agent identity: %w", err)
	}
	id := new(Identity)
	if err := json.Unmarshal(b, id); err != nil {
		return nil, fmt.Errorf("agent identity %s: %w: join again with a new join code", filepath.Join(dir, idInfo), err)
	}
	id.cert, err = tls.LoadX509KeyPair(filepath.Join(dir, idCert), filepath.Join(dir, idKey))
	if err != nil {
		return nil, fmt.Errorf("agent identity in %s: %w: join again with a new join code", dir, err)
	}
	ab, err := os.ReadFile(filepath.Join(dir, idAnchor))
	if err != nil {
		return nil, fmt.Errorf("agent identity: %w", err)
	}
	if id.anchor, err = certs.ParseCert(idAnchor, ab); err != nil {
		return nil, fmt.Errorf("agent identity: %w: join again with a new join code", err)
	}
	cb, err := os.ReadFile(filepath.Join(dir, idCA))
	if err != nil {
		return nil, fmt.Errorf("agent identity: %w", err)
	}
	if id.ca, err = certs.ParseCert(idCA, cb); err != nil {
		return nil, fmt.Errorf("agent identity: %w: join again with a new join code", err)
	}
	return id, nil
}

// TLS is the agent's client configuration: its certificate, and trust in
// the certificate its join pinned, the hub's CA (a standalone broker's
// certificate comes from `peerlink broker-cert create`) and caFile's, if
// given.
func (id *Identity) TLS(caFile string) (*tls.Config, error) {
	conf := &tls.Config{MinVersion: certs.MinVersion, RootCAs: x509.NewCertPool(), Certificates: []tls.Certificate{id.cert}}
	if caFile != "" {
		extra, err := certs.Client(caFile)
		if err != nil {
			return nil, err
		}
		conf.RootCAs = extra.RootCAs
	}
	conf.RootCAs.AddCert(id.anchor)
	conf.RootCAs.AddCert(id.ca)
	return conf, nil
}
