package api

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/peerlink/peerlink/web/certs"
	"github.com/peerlink/peerlink/wire"
)

// Client calls a hub's REST API.
type Client struct {
	base  string
	token string
	http  *http.Client

	// probe, for a plain http:// hub on another machine, asks once without
	// the token whether the hub really speaks plain HTTP: one that serves
	// HTTPS would get the token in clear before it could refuse it.
	probe    bool
	probed   sync.Once
	probeErr error
}

// NewClient returns a client for the hub at hubURL (http://host:8181, or
// host:port) authenticating with token.
func NewClient(hubURL, token string) *Client {
	return NewClientTLS(hubURL, token, nil)
}

// NewClientTLS is NewClient with the TLS configuration of an https:// URL
// (nil: the system's roots).
func NewClientTLS(hubURL, token string, conf *tls.Config) *Client {
	if !strings.Contains(hubURL, "://") {
		hubURL = "http://" + hubURL
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = conf
	c := &Client{base: strings.TrimRight(hubURL, "/"), token: token, http: &http.Client{Timeout: 30 * time.Second, Transport: tr}}
	if u, err := url.Parse(c.base); err == nil && u.Scheme == "http" {
		c.probe = !isLoopback(u.Hostname())
	}
	return c
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// checkPlain is the probe: an error if the hub at a plain http:// URL
// answers that it serves HTTPS.
func (c *Client) checkPlain(ctx context.Context) error {
	c.probed.Do(func() {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/healthz", nil)
		if err != nil {
			return
		}
		resp, err := c.http.Do(req)
		if err != nil {
			return // the request proper says what is wrong
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
		if resp.StatusCode == http.StatusBadRequest && bytes.Contains(b, []byte("HTTPS")) {
			c.probeErr = &StatusError{Code: resp.StatusCode, Msg: fmt.Sprintf("hub %s serves HTTPS: use https:// in --hub (or PEERLINK_HUB); the token was not sent", c.base)}
		}
	})
	return c.probeErr
}

// StatusError is an error response from the hub.
type StatusError struct {
	Code int
	Msg  string
}

func (e *StatusError) Error() string { return e.Msg }

// ErrUnreachable is wrapped when the hub cannot be reached at all.
var ErrUnreachable = errors.New("hub unreachable")

// ErrUntrusted is wrapped when the hub's TLS certificate cannot be verified.
var ErrUntrusted = errors.New("certificate not trusted")

func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	if c.probe {
		if err := c.checkPlain(ctx); err != nil {
			return err
		}
	}
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return fmt.Errorf("hub %s: %w", c.base, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil && certs.IsUntrusted(err) {
		return fmt.Errorf("hub %s: %w: %v: if its certificate is self-signed, give its CA with --ca FILE (or PEERLINK_CA)", c.base, ErrUntrusted, errors.Unwrap(err))
	}
	if err != nil {
		return fmt.Errorf("%w at %s: %v: is the hub running, and is --hub (or PEERLINK_HUB) right?", ErrUnreachable, c.base, errors.Unwrap(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		var p Problem
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		if json.Unmarshal(b, &p) != nil || p.Error == "" {
			p.Error = fmt.Sprintf("hub answered %s", resp.Status)
			if resp.Header.Get(wire.ServedByHeader) == wire.ServedByBroker {
				p.Error = fmt.Sprintf("%s is the peerlink broker (61617 by default), not the hub's console and REST API: "+
					"give the hub's URL in --hub (or PEERLINK_HUB), http://HOST:8181 (the port of the hub's --listen)", c.base)
			}
			if resp.StatusCode == http.StatusBadRequest && strings.HasPrefix(c.base, "http://") && bytes.Contains(b, []byte("HTTPS")) {
				p.Error = fmt.Sprintf("hub %s serves HTTPS: use https:// in --hub (or PEERLINK_HUB)", c.base)
			}
		}
		return &StatusError{Code: resp.StatusCode, Msg: p.Error}
	}
	if out == nil {
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("hub %s %s: bad response: %w", method, path, err)
	}
	return nil
}

func sessionPath(name string) string { return "/api/v1/sessions/" + url.PathEscape(name) }

// Status returns the hub's overview.
func (c *Client) Status(ctx context.Context) (Status, error) {
	var s Status
	return s, c.do(ctx, http.MethodGet, "/api/v1/status", nil, &s)
}

// Sessions lists every session.
func (c *Client) Sessions(ctx context.Context) ([]Session, error) {
	var s []Session
	return s, c.do(ctx, http.MethodGet, "/api/v1/sessions", nil, &s)
}

// Session returns one session.
func (c *Client) Session(ctx context.Context, name string) (Session, error) {
	var s Session
	return s, c.do(ctx, http.MethodGet, sessionPath(name), nil, &s)
}

// CreateSession defines a new session.
func (c *Client) CreateSession(ctx context.Context, cfg SessionConfig) (Session, error) {
	var s Session
	return s, c.do(ctx, http.MethodPost, "/api/v1/sessions", cfg, &s)
}

// UpdateSession replaces a stopped session's definition.
func (c *Client) UpdateSession(ctx context.Context, cfg SessionConfig) (Session, error) {
	var s Session
	return s, c.do(ctx, http.MethodPut, sessionPath(cfg.Name), cfg, &s)
}

// Conflicts returns a session's File Conflict List.
func (c *Client) Conflicts(ctx context.Context, session string) ([]Conflict, error) {
	var l []Conflict
	return l, c.do(ctx, http.MethodGet, sessionPath(session)+"/conflicts", nil, &l)
}

// Locks returns a running session's live locks.
func (c *Client) Locks(ctx context.Context, session string) ([]Lock, error) {
	var l []Lock
	return l, c.do(ctx, http.MethodGet, sessionPath(session)+"/locks", nil, &l)
}

// Resolve picks the winning host of one conflicted path or of all of them.
func (c *Client) Resolve(ctx context.Context, session string, req ResolveRequest) (ResolveResult, error) {
	var r ResolveResult
	return r, c.do(ctx, http.MethodPost, sessionPath(session)+"/conflicts/resolve", req, &r)
}

// Deletions approves or discards a host's held deletions.
func (c *Client) Deletions(ctx context.Context, session string, req DeletionsRequest) (DeletionsResult, error) {
	var r DeletionsResult
	return r, c.do(ctx, http.MethodPost, sessionPath(session)+"/deletions", req, &r)
}

// ResetRoot takes a host's root as a new host's (see ResetRootRequest).
func (c *Client) ResetRoot(ctx context.Context, session string, req ResetRootRequest) (Session, error) {
	var s Session
	return s, c.do(ctx, http.MethodPost, sessionPath(session)+"/reset-root", req, &s)
}

// DeleteSession removes a stopped session.
func (c *Client) DeleteSession(ctx context.Context, name string) error {
	return c.do(ctx, http.MethodDelete, sessionPath(name), nil, nil)
}

// Start starts a session.
func (c *Client) Start(ctx context.Context, name string) (Session, error) {
	var s Session
	return s, c.do(ctx, http.MethodPost, sessionPath(name)+"/start", nil, &s)
}

// Stop stops a session.
func (c *Client) Stop(ctx context.Context, name string) (Session, error) {
	var s Session
	return s, c.do(ctx, http.MethodPost, sessionPath(name)+"/stop", nil, &s)
}

// Events returns a page of a session's event log, newest first.
func (c *Client) Events(ctx context.Context, session string, q EventQuery) ([]Event, error) {
	v := url.Values{}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	if q.Before > 0 {
		v.Set("before", strconv.FormatUint(q.Before, 10))
	}
	if q.Kind != "" {
		v.Set("kind", q.Kind)
	}
	if q.Q != "" {
		v.Set("q", q.Q)
	}
	p := sessionPath(session) + "/events"
	if len(v) > 0 {
		p += "?" + v.Encode()
	}
	var l []Event
	return l, c.do(ctx, http.MethodGet, p, nil, &l)
}

// Diff returns hosts a's and b's current copies of path, read through
// their agents.
func (c *Client) Diff(ctx context.Context, session, path, a, b string) (Diff, error) {
	v := url.Values{"path": {path}, "a": {a}, "b": {b}}
	var d Diff
	return d, c.do(ctx, http.MethodGet, sessionPath(session)+"/diff?"+v.Encode(), nil, &d)
}
