package client

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/peerlink/peerlink/web/api"
	"github.com/peerlink/peerlink/web/certs"
	"github.com/peerlink/peerlink/web/enrol"
)

// Files `peerlink broker-cert create` writes into --out.
const (
	brokerCertFile = "broker.pem"
	brokerKeyFile  = "broker-key.pem"
	brokerCAFile   = "ca.pem"
)

// brokerCertCommand is `peerlink broker-cert create`.
func brokerCertCommand() *cli.Command {
	return &cli.Command{
		Name: "broker-cert", Usage: "a standalone broker's TLS certificate from the hub's CA, so agents connect to it with their own certificates",
		Subcommands: []*cli.Command{{
			Name: "create", Usage: "run on the broker's host: make a key there, have the hub's CA sign it for --name/--ip, " +
				"and write OUT/broker.pem, OUT/broker-key.pem and OUT/ca.pem (the broker's --tls-cert, --tls-key and --client-ca)",
			Flags: clientFlags(
				&cli.StringSliceFlag{Name: "name", Usage: "a host name the hub and agents reach the broker by (repeat for more)"},
				&cli.StringSliceFlag{Name: "ip", Usage: "an IP address the hub and agents reach the broker by (repeat for more)"},
				&cli.StringFlag{Name: "out", Usage: "folder to write the files into (created 0700)", Required: true}),
			Action: createBrokerCert,
		}},
	}
}

func createBrokerCert(c *cli.Context) error {
	names := append(c.StringSlice("name"), c.StringSlice("ip")...)
	if len(names) == 0 {
		return fmt.Errorf("give the names the broker is reached by: --name HOST and/or --ip ADDRESS, as in its --broker-url")
	}
	out := c.String("out")
	if err := os.MkdirAll(out, 0o700); err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	for _, f := range []string{brokerKeyFile, brokerCertFile} {
		if _, err := os.Stat(filepath.Join(out, f)); err == nil {
			return fmt.Errorf("--out %s holds %s already: give another folder, or remove the old files first", out, f)
		}
	}
	cl, err := client(c)
	if err != nil {
		return err
	}
	// The key is made here, on the broker's host, and never sent.
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	csr, err := enrol.NewCSR(names[0], key)
	if err != nil {
		return err
	}
	bc, err := cl.CreateBrokerCert(c.Context, api.BrokerCertRequest{Names: names, CSR: csr})
	if err != nil {
		return fmt.Errorf("broker certificate: %w", err)
	}
	kb, err := certs.EncodeKey(key)
	if err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		b    []byte
	}{{brokerKeyFile, kb}, {brokerCertFile, []byte(bc.Certificate)}, {brokerCAFile, []byte(bc.CA)}} {
		if err := certs.WriteFile(filepath.Join(out, f.name), f.b); err != nil {
			return fmt.Errorf("broker certificate: write %s: %w", f.name, err)
		}
	}
	fmt.Fprintf(c.App.Writer, "wrote %s, %s and %s (valid until %s); run the broker with:\n  peerlink broker --data DIR --tls-cert %s --tls-key %s --client-ca %s\n",
		filepath.Join(out, brokerCertFile), filepath.Join(out, brokerKeyFile), filepath.Join(out, brokerCAFile), bc.Expires.Local().Format(time.DateOnly),
		filepath.Join(out, brokerCertFile), filepath.Join(out, brokerKeyFile), filepath.Join(out, brokerCAFile))
	return nil
}
