package doctor

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/peerlink/peerlink/roles/broker/natslink"
	"github.com/peerlink/peerlink/web/api"
	"github.com/peerlink/peerlink/web/certs"
	"github.com/peerlink/peerlink/wire"
)

// MaxClockOffset is the offset from the hub's clock above which doctor
// warns: last-modified-time-wins compares the servers' clocks.
const MaxClockOffset = time.Second

// remote checks the hub and the broker; roots collects what the hub's
// sessions give opts.Name.
type remote struct {
	opts  Options
	tls   *tls.Config
	roots []string
}

func (r *remote) checks(ctx context.Context) []Result {
	var out []Result
	conf, err := certs.Client(r.opts.CAFile)
	if err != nil {
		return []Result{{Check: "tls", Status: Fail, Detail: err.Error(), Fix: "give --ca a PEM file of the CA that signed the hub's certificate"}}
	}
	r.tls = conf
	if r.opts.Hub == "" {
		out = append(out, Result{Check: "hub", Status: Skip, Detail: "no hub URL given", Fix: "give --hub http://HUB:8181 to check the hub, the token and this host's clock"})
	} else {
		out = append(out, r.hub(ctx)...)
	}
	switch {
	case r.opts.Broker == "":
		out = append(out, Result{Check: "broker", Status: Skip, Detail: "no broker URL given", Fix: "give --broker ws://HUB:61617 (or nats://HOST:4222,...), as the agent has it"})
	case natslink.IsURL(r.opts.Broker):
		out = append(out, r.natsBroker(ctx)...)
	default:
		out = append(out, r.broker(ctx))
	}
	return out
}

// probe GETs url's /healthz and returns the response's headers and the
// round trip's start and end.
func (r *remote) probe(ctx context.Context, url string) (http.Header, time.Time, time.Time, error) {
	ctx, cancel := context.WithTimeout(ctx, r.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(url, "/")+"/healthz", nil)
	if err != nil {
		return nil, time.Time{}, time.Time{}, err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = r.tls
	defer tr.CloseIdleConnections()
	t0 := time.Now()
	resp, err := (&http.Client{Transport: tr}).Do(req)
	t3 := time.Now()
	if err != nil {
		return nil, t0, t3, err
	}
	resp.Body.Close()
	return resp.Header, t0, t3, nil
}

// unreachable is the result of a probe that got no answer.
func unreachable(check, url string, err error, port string) Result {
	var unknown x509.UnknownAuthorityError
	var invalid x509.CertificateInvalidError
	var host x509.HostnameError
	switch {
	case errors.As(err, &unknown) || errors.As(err, &invalid):
		return Result{Check: check, Status: Fail, Detail: fmt.Sprintf("%s: its certificate is not trusted: %v", url, err),
			Fix: "give --ca FILE, the CA (PEM) that signed it (for a self-signed hub, its DATA/tls/ca.pem)"}
	case errors.As(err, &host):
		return Result{Check: check, Status: Fail, Detail: fmt.Sprintf("%s: %v", url, err),
			Fix: "use the name its certificate was made for"}
	}
	return Result{Check: check, Status: Fail, Detail: fmt.Sprintf("%s cannot be reached: %v", url, err),
		Fix: "check the URL (port " + port + " by default), that it runs, and the firewalls between"}
}

func (r *remote) hub(ctx context.Context) []Result {
	url := r.opts.Hub
	if !strings.Contains(url, "://") {
		url = "http://" + url
	}
	h, t0, t3, err := r.probe(ctx, url)
	if err != nil {
		return []Result{unreachable("hub", url, err, "8181")}
	}
	if s := h.Get(wire.ServedByHeader); s != wire.ServedByHub {
		return []Result{wrongServer("hub", url, s, "the hub's console and API, http://HUB:8181")}
	}
	out := []Result{{Check: "hub", Status: OK, Detail: url + " answers"}, clock(h, t0, t3)}
	return append(out, r.token(ctx, url))
}

func wrongServer(check, url, got, want string) Result {
	what := "not peerlink's"
	if got != "" {
		what = "peerlink's " + got
	}
	return Result{Check: check, Status: Fail, Detail: fmt.Sprintf("%s is %s", url, what), Fix: "give " + want}
}

// clock measures this host's offset from the server's clock, NTP-style:
// the server's time is taken as the middle of the round trip, give or take
// half of it.
func clock(h http.Header, t0, t3 time.Time) Result {
	server, err := time.Parse(time.RFC3339Nano, h.Get(wire.ServerTimeHeader))
	if err != nil {
		return Result{Check: "clock", Status: Skip, Detail: "the hub does not say its time (an older version)", Fix: "upgrade the hub"}
	}
	rtt := t3.Sub(t0)
	offset := t0.Add(rtt / 2).Sub(server)
	detail := fmt.Sprintf("%s from the hub's (± %s)", signed(offset), (rtt / 2).Round(time.Millisecond))
	if offset.Abs()-rtt/2 > MaxClockOffset {
		return Result{Check: "clock", Status: Warn, Detail: "this host's clock is " + detail,
			Fix: "keep every server's clock in sync with NTP (chrony, systemd-timesyncd): last-modified-time-wins compares their modification times"}
	}
	return Result{Check: "clock", Status: OK, Detail: "this host's clock is " + detail}
}

func signed(d time.Duration) string {
	d = d.Round(time.Millisecond)
	if d >= 0 {
		return "+" + d.String()
	}
	return d.String()
}

// token checks the token against the hub and, with a name, collects the
// roots the hub's sessions give it.
func (r *remote) token(ctx context.Context, url string) Result {
	if r.opts.Token == "" {
		return Result{Check: "token", Status: Skip, Detail: "no token given", Fix: "give --token-file FILE holding an API token of the hub (a viewer's is enough: peerlink tokens create --name doctor --role viewer)"}
	}
	ctx, cancel := context.WithTimeout(ctx, r.opts.Timeout)
	defer cancel()
	c := api.NewClientTLS(url, r.opts.Token, r.tls)
	st, err := c.Status(ctx)
	var se *api.StatusError
	if errors.As(err, &se) && se.Code == http.StatusUnauthorized {
		return Result{Check: "token", Status: Fail, Detail: "the hub refuses the token", Fix: "give an API token of this hub that is not revoked (peerlink tokens list; the shared DATA/token signs no one in on a new hub)"}
	}
	if err != nil {
		return Result{Check: "token", Status: Fail, Detail: err.Error()}
	}
	if r.opts.Name == "" {
		return Result{Check: "token", Status: OK, Detail: "the hub takes the token"}
	}
	known := false
	for _, a := range st.Agents {
		known = known || a.Name == r.opts.Name
	}
	sessions, err := c.Sessions(ctx)
	if err != nil {
		return Result{Check: "token", Status: Fail, Detail: "the hub takes the token, but listing its sessions failed: " + err.Error()}
	}
	var in []string
	for _, s := range sessions {
		for _, hr := range s.Hosts {
			if hr.Host == r.opts.Name {
				r.roots = append(r.roots, hr.Root)
				in = append(in, s.Name)
			}
		}
	}
	detail := fmt.Sprintf("the hub takes the token; %s is in %d session(s) %s", r.opts.Name, len(in), strings.Join(in, " "))
	if !known {
		return Result{Check: "token", Status: Warn, Detail: detail + ", but no agent of that name has connected yet",
			Fix: "start the agent with --name " + r.opts.Name}
	}
	return Result{Check: "token", Status: OK, Detail: detail}
}

func (r *remote) broker(ctx context.Context) Result {
	url := r.opts.Broker
	switch {
	case strings.HasPrefix(url, "ws://"):
		url = "http://" + strings.TrimPrefix(url, "ws://")
	case strings.HasPrefix(url, "wss://"):
		url = "https://" + strings.TrimPrefix(url, "wss://")
	default:
		return Result{Check: "broker", Status: Fail, Detail: r.opts.Broker + " is not a broker URL", Fix: "give ws://HUB:61617 (wss:// if the hub serves TLS), or nats://HOST:4222 (tls://) for a NATS cluster"}
	}
	h, _, _, err := r.probe(ctx, url)
	if err != nil {
		return unreachable("broker", r.opts.Broker, err, "61617")
	}
	if s := h.Get(wire.ServedByHeader); s != wire.ServedByBroker {
		return wrongServer("broker", r.opts.Broker, s, "the broker's URL, ws://HUB:61617")
	}
	return Result{Check: "broker", Status: OK, Detail: r.opts.Broker + " answers"}
}
