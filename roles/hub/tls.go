package hub

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"

	"github.com/peerlink/peerlink/web/certs"
)

// TLSDir is where a hub keeps its CA and server certificate: DATA/tls.
// DATA/tls/ca.pem is the file the CLI trusts the hub by (--ca,
// PEERLINK_CA).
func TLSDir(dataDir string) string { return filepath.Join(dataDir, "tls") }

// hubTLS is the TLS of a hub's servers, as its options ask.
type hubTLS struct {
	server *tls.Config // the console and API; nil: plain HTTP
	ca     *certs.Authority
	anchor string // Hash of the certificate join codes pin
}

// setupTLS makes, at first start, the hub's CA and a server certificate for
// the names the hub is reached by, or loads them; --tls-cert and --tls-key
// replace the server certificate. --insecure-plain serves without TLS,
// on loopback only unless --insecure-plain-non-loopback says otherwise.
func setupTLS(o Options) (*hubTLS, error) {
	if o.InsecurePlain {
		if o.TLSCert != "" || o.TLSKey != "" || len(o.TLSNames) > 0 {
			return nil, errors.New("--insecure-plain serves without TLS: drop it, or drop --tls-cert, --tls-key and --tls-name")
		}
		if !o.InsecurePlainNonLoopback {
			for _, a := range []string{o.Listen, o.BrokerListen} {
				if a != "" && !loopback(a) {
					return nil, fmt.Errorf("--insecure-plain on %s: that address is reachable from other hosts, which would see the token and every file in clear: "+
						"listen on 127.0.0.1 only, or drop --insecure-plain (the hub serves TLS with its own CA by default); "+
						"add --insecure-plain-non-loopback only if a network you trust encrypts the traffic already", a)
				}
			}
		}
		return &hubTLS{}, nil
	}
	if o.InsecurePlainNonLoopback {
		return nil, errors.New("--insecure-plain-non-loopback goes with --insecure-plain")
	}
	dir := TLSDir(o.DataDir)
	ca, created, err := certs.LoadOrCreateAuthority(dir)
	if err != nil {
		return nil, err
	}
	if created {
		o.Log.Info().Str("ca", certs.CAFile(dir)).Str("hash", certs.Hash(ca.Cert)).Msg("created the hub's certificate authority: the CLI trusts the hub with --ca (or PEERLINK_CA) naming this file")
	}
	var conf *tls.Config
	if o.TLSCert != "" || o.TLSKey != "" {
		conf, err = certs.Server(o.TLSCert, o.TLSKey)
	} else {
		names := o.TLSNames
		if len(names) == 0 {
			names = defaultNames(o.Listen, o.BrokerListen)
		}
		conf, err = ca.ServerConfig(dir, names)
	}
	if err != nil {
		return nil, err
	}
	anchor, err := certs.Anchor(conf)
	if err != nil {
		return nil, err
	}
	return &hubTLS{server: conf, ca: ca, anchor: certs.Hash(anchor)}, nil
}

// brokerServer is the embedded broker's configuration: the hub's server
// certificate, and client certificates asked for and checked against the
// hub's CA.
func (t *hubTLS) brokerServer() *tls.Config {
	if t.server == nil {
		return nil
	}
	conf := t.server.Clone()
	certs.RequireClientCerts(conf, t.ca.Cert)
	return conf
}

// loopback reports whether a listen address takes connections from this
// host only. ":8181" listens on every interface.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// defaultNames are the names a hub's certificate covers when --tls-name is
// not given: the host's name, localhost, loopback, the listen addresses'
// hosts and the addresses of the host's other interfaces.
func defaultNames(listens ...string) []string {
	var names []string
	seen := map[string]bool{}
	add := func(n string) {
		if n != "" && !seen[n] {
			seen[n] = true
			names = append(names, n)
		}
	}
	if h, err := os.Hostname(); err == nil {
		add(h)
	}
	add("localhost")
	add("127.0.0.1")
	add("::1")
	for _, l := range listens {
		if h, _, err := net.SplitHostPort(l); err == nil {
			if ip := net.ParseIP(h); ip == nil || !ip.IsUnspecified() {
				add(h)
			}
		}
	}
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && !n.IP.IsLinkLocalUnicast() {
			add(n.IP.String())
		}
	}
	return names
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
