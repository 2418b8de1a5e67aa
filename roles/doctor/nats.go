package doctor

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/peerlink/peerlink/roles/broker/natslink"
	"github.com/peerlink/peerlink/web/certs"
)

// natsBroker checks every server of a NATS cluster's URL list, as an
// agent with --broker nats://... would connect to it: one "broker" line
// per server (it answers, and admits the agent's NKey with the agent's
// permissions), and a "tls" line for each that speaks TLS.
func (r *remote) natsBroker(ctx context.Context) []Result {
	var key nkeys.KeyPair
	if r.opts.NKeyFile != "" {
		var err error
		if key, err = natslink.LoadSeed(r.opts.NKeyFile); err != nil {
			return []Result{{Check: "broker", Status: Fail, Detail: err.Error(),
				Fix: "give --nkey-file the NAME.nk that `peerlink nats-config --agent NAME` wrote for this agent"}}
		}
	}
	var out []Result
	var down []int // indexes in out of servers that could not be reached
	answered := false
	for _, u := range strings.Split(r.opts.Broker, ",") {
		if u = strings.TrimSpace(u); u == "" {
			continue
		}
		res, reached := r.natsServer(ctx, u, key)
		if !reached {
			down = append(down, len(out))
		}
		answered = answered || reached && res[len(res)-1].Status != Fail
		out = append(out, res...)
	}
	// The agent connects to the next server of its list: a server down
	// while another takes the agent is to mend, not a failure.
	for _, i := range down {
		if answered {
			out[i].Status = Warn
			out[i].Fix += "; meanwhile the agent connects to another server of the list"
		}
	}
	return out
}

// natsServer checks one NATS server; reached is false if it could not be
// reached at all.
func (r *remote) natsServer(ctx context.Context, url string, key nkeys.KeyPair) (results []Result, reached bool) {
	ctx, cancel := context.WithTimeout(ctx, r.opts.Timeout)
	defer cancel()
	opts := []nats.Option{nats.Name("peerlink doctor"), nats.NoReconnect(), nats.Timeout(r.opts.Timeout),
		nats.PermissionErrOnSubscribe(true), nats.SetCustomDialer(ctxDialer{ctx}),
		// Asynchronous errors are read from the subscription below.
		nats.ErrorHandler(func(*nats.Conn, *nats.Subscription, error) {})}
	tlsURL := strings.HasPrefix(strings.ToLower(url), "tls://")
	if tlsURL {
		// As the agent: --ca for tls:// URLs (natslink.Options.TLS).
		opts = append(opts, nats.Secure(r.tls))
	}
	if key != nil {
		if pub, err := key.PublicKey(); err == nil {
			opts = append(opts, nats.Nkey(pub, key.Sign))
		}
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		res, unreachable := natsRefused(url, err, key != nil, r.opts.NKeyFile, r.opts.Name, tlsURL)
		return []Result{res}, !unreachable
	}
	defer nc.Close()
	var out []Result
	if tlsURL || nc.TLSRequired() {
		out = append(out, Result{Check: "tls", Status: OK, Detail: url + " speaks TLS with a certificate this host trusts"})
	} else {
		out = append(out, Result{Check: "tls", Status: Warn, Detail: url + " speaks NATS without TLS: file contents cross the network in clear",
			Fix: "give the NATS servers a certificate (a tls { } block) and the agents tls://HOST:4222 with --ca for its CA, or keep the cluster on a private network"})
	}
	ver := fmt.Sprintf("%s answers (NATS server %s)", url, nc.ConnectedServerVersion())
	switch {
	case key == nil:
		out = append(out, Result{Check: "broker", Status: Warn, Detail: ver + " and admits a client without credentials: any client may speak as any agent",
			Fix: "include the peerlink-users.conf that `peerlink nats-config` writes in every NATS server, and give each agent --nkey-file NAME.nk"})
	case r.opts.Name == "":
		out = append(out, Result{Check: "broker", Status: OK, Detail: ver + " and takes the NKey of " + r.opts.NKeyFile + " (give --name to check it is this agent's)"})
	default:
		out = append(out, r.natsKeyIsName(nc, url, ver))
	}
	return out, true
}

// natsKeyIsName checks that the key nc connected with may read the
// agent's frames, which only the agent's own key may.
func (r *remote) natsKeyIsName(nc *nats.Conn, url, ver string) Result {
	name := r.opts.Name
	sub, err := nc.SubscribeSync(natslink.Inbox(name))
	if err == nil {
		// The server refuses a subscription before it answers the flush's
		// ping, so the refusal, if any, has been read by now.
		err = nc.Flush()
	}
	if err == nil {
		_, err = sub.NextMsg(time.Millisecond)
		if errors.Is(err, nats.ErrTimeout) {
			err = nil
		}
	}
	switch {
	case errors.Is(err, nats.ErrPermissionViolation):
		return Result{Check: "broker", Status: Fail, Detail: fmt.Sprintf("%s takes the NKey of %s, but not as %s's: %v", url, r.opts.NKeyFile, name, err),
			Fix: "give this agent its own NAME.nk from `peerlink nats-config --agent " + name + "`, or check --name"}
	case err != nil:
		return Result{Check: "broker", Status: Fail, Detail: fmt.Sprintf("%s: checking %s's permissions: %v", url, name, err)}
	}
	return Result{Check: "broker", Status: OK, Detail: ver + " and takes " + name + "'s NKey with " + name + "'s permissions"}
}

// natsRefused is the result of a NATS server that did not let doctor in;
// unreachable is set if it was not reached at all.
func natsRefused(url string, err error, withKey bool, keyFile, name string, tlsURL bool) (_ Result, unreachable bool) {
	if name == "" {
		name = "NAME"
	}
	auth := errors.Is(err, nats.ErrAuthorization) || strings.Contains(strings.ToLower(err.Error()), "authorization violation")
	switch {
	case auth && withKey:
		return Result{Check: "broker", Status: Fail, Detail: fmt.Sprintf("%s refuses the NKey of %s: %v", url, keyFile, err),
			Fix: "where the hub runs, `peerlink nats-config --data HUBDATA --agent " + name + " ...` (every agent), include its peerlink-users.conf in every NATS server, " +
				"reload them (nats-server --signal reload), and give this agent the " + name + ".nk it wrote"}, false
	case auth:
		return Result{Check: "broker", Status: Fail, Detail: fmt.Sprintf("%s requires credentials: %v", url, err),
			Fix: "give --nkey-file " + name + ".nk, as the agent has it (from `peerlink nats-config` where the hub runs)"}, false
	case certs.IsUntrusted(err) && !tlsURL:
		return Result{Check: "tls", Status: Fail, Detail: fmt.Sprintf("%s requires TLS, and its certificate is not trusted: %v", url, err),
			Fix: "write the URL as tls://" + strings.TrimPrefix(url, "nats://") + " and give --ca FILE, the CA (PEM) that signed the NATS servers' certificates (the agent too)"}, false
	case certs.IsUntrusted(err):
		return Result{Check: "tls", Status: Fail, Detail: fmt.Sprintf("%s: its certificate is not trusted: %v", url, err),
			Fix: "give --ca FILE, the CA (PEM) that signed the NATS servers' certificates, as the agent has it"}, false
	}
	return Result{Check: "broker", Status: Fail, Detail: fmt.Sprintf("%s cannot be reached: %v", url, err),
		Fix: "check the URL (nats://HOST:4222, or tls://), that nats-server runs there, and the firewalls between"}, true
}

// ctxDialer dials NATS servers within a context.
type ctxDialer struct{ ctx context.Context }

func (d ctxDialer) Dial(network, addr string) (net.Conn, error) {
	var nd net.Dialer
	return nd.DialContext(d.ctx, network, addr)
}
