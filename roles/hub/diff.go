package hub

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/peerlink/peerlink/roles/broker"
	"github.com/peerlink/peerlink/web/api"
	"github.com/peerlink/peerlink/wire"
)

// diffTimeout bounds a diff: two small scans and two reads.
const diffTimeout = 30 * time.Second

// diffTries is how often a side is read again when its copy changes under
// the read.
const diffTries = 3

// errStop ends the scan of a folder early: only files are compared.
var errStop = errors.New("enough seen")

// Diff returns hosts a's and b's current copies of path, read through
// their agents, for the console to compare. The hub never opens a file: it
// scans the one path on each host, as a resolution does, and reads a copy
// of at most api.DiffMaxBytes with wire.Read at the size and modification
// time the scan saw, so both the text and the hash are of one version.
func (h *Hub) Diff(name, path, a, b string) (api.Diff, error) {
	cfg, err := h.config(name)
	if err != nil {
		return api.Diff{}, err
	}
	if err := wire.CheckPath(path); err != nil {
		return api.Diff{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	for _, host := range []string{a, b} {
		if !slices.ContainsFunc(cfg.Hosts, func(hr api.HostRoot) bool { return hr.Host == host }) {
			return api.Diff{}, invalid("%q is not a host of session %s (its hosts: %s)", host, name, hostList(cfg))
		}
	}
	r := h.run(name)
	if r == nil || !h.attached(name) {
		return api.Diff{}, fmt.Errorf("%w: session %s is not running: copies are read through its agents, so start it first", ErrBusy, name)
	}
	c := h.client()
	if c == nil {
		return api.Diff{}, errUnreachableBroker()
	}
	ctx, cancel := context.WithTimeout(r.ctx(), diffTimeout)
	defer cancel()
	d := api.Diff{Path: path}
	var wg sync.WaitGroup
	wg.Go(func() { d.A = h.diffSide(ctx, c, name, a, path) })
	wg.Go(func() { d.B = h.diffSide(ctx, c, name, b, path) })
	wg.Wait()
	return d, nil
}

// diffSide reads host's copy of path. Failures are the side's Error: the
// other side is still worth showing.
func (h *Hub) diffSide(ctx context.Context, c *broker.Client, session, host, path string) api.DiffSide {
	side := api.DiffSide{Host: host}
	if !h.connected(host) {
		side.Error = fmt.Sprintf("%s is not connected", host)
		return side
	}
	for range diffTries {
		var e *wire.Entry
		err := scanHost(ctx, c, session, host, path, func(part *wire.ScanPart) error {
			for i := range part.Entries {
				if part.Entries[i].Path == path {
					e = &part.Entries[i]
					if e.Kind == wire.KindDir {
						return errStop // no need to see what is below
					}
				}
			}
			return nil
		})
		if err != nil && !errors.Is(err, errStop) {
			side.Error = err.Error()
			return side
		}
		if e == nil {
			return side
		}
		side.Exists = true
		if e.Kind == wire.KindDir {
			side.Error = "a folder: only files can be compared"
			return side
		}
		side.Size, side.Hash = e.Size, e.Hash.String()
		if e.Size > api.DiffMaxBytes {
			side.TooLarge = true
			return side
		}
		data, err := readCopy(ctx, c, session, host, *e)
		var we *wire.Error
		switch {
		case errors.As(err, &we) && we.Kind == wire.KindChanged:
			continue
		case err != nil:
			side.Error = err.Error()
			return side
		case sha256.Sum256(data) != e.Hash:
			continue // changed and back to the scanned size and time
		}
		if bytes.IndexByte(data, 0) >= 0 || !utf8.Valid(data) {
			side.Binary = true
		} else {
			side.Text = string(data)
		}
		return side
	}
	side.Error = "the copy kept changing while it was read: try again"
	return side
}

// readCopy reads a file of at most one chunk whole, as the version e.
func readCopy(ctx context.Context, c *broker.Client, session, host string, e wire.Entry) ([]byte, error) {
	if e.Size == 0 {
		return nil, nil
	}
	in, err := c.Request(ctx, host, &wire.Read{Session: session, Path: e.Path, Length: int(e.Size), Size: e.Size, Mtime: e.Mtime, Raw: true}, nil)
	if err != nil {
		return nil, wire.ToError("read", host, e.Path, err)
	}
	rd, ok := in.Msg.(*wire.ReadData)
	if !ok {
		return nil, fmt.Errorf("read %s on %s: unexpected reply %s", e.Path, host, in.Type)
	}
	// Asked raw: a diff is one small file, read seldom, on the hub.
	data := in.Data
	if rd.Codec != wire.CodecNone {
		return nil, fmt.Errorf("read %s on %s: sent encoded with %s though asked raw", e.Path, host, rd.Codec)
	}
	if len(data) != rd.N || int64(len(data)) != e.Size {
		return nil, &wire.Error{Kind: wire.KindChanged, Host: host, Path: e.Path, Msg: fmt.Sprintf("read %d bytes of %d", len(data), e.Size)}
	}
	return data, nil
}
