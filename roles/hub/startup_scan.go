package hub

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/peerlink/peerlink/roles/broker"
	"github.com/peerlink/peerlink/web/api"
	"github.com/peerlink/peerlink/wire"
)

// scan collects every host's scan, each spooled to disk as it arrives
// (spool.go); the caller closes the spools once merged.
//
// skipped holds the paths some host could not read (its scan's warnings):
// they are left alone this time, on every host, since an unreadable copy
// must not pass for a deleted one. writing holds, by host, the files it
// had open for writing (conflict.Input.Writing).
func (r *run) scan(ctx context.Context, c *broker.Client) (scans map[string]*spool, skipped map[string]bool, writing map[string][]string, err error) {
	hosts := r.startHosts()
	dir, err := spoolDir(r.h.cfg.DataDir, r.cfg.Name)
	if err != nil {
		return nil, nil, nil, err
	}
	scans = make(map[string]*spool, len(hosts))
	writing = make(map[string][]string, len(hosts))
	skipped = map[string]bool{}
	var skippedMu sync.Mutex
	results := make([]*spool, len(hosts))
	for i, hr := range hosts {
		if results[i], err = newSpool(dir, hr.Host); err != nil {
			closeSpools(results...)
			return nil, nil, nil, err
		}
	}
	open := make([][]string, len(hosts))
	r.scanned.reset()
	g, ctx := errgroup.WithContext(ctx)
	for i, hr := range hosts {
		g.Go(func() error {
			r.setHost(hr.Host, "scanning", nil)
			started := time.Now()
			// Supersede: what a host reported before its scan walked, the
			// scan saw (live_scanned.go).
			scan := &wire.Scan{Session: r.cfg.Name, Supersede: true}
			err := scanWith(ctx, c, hr.Host, scan, func(part *wire.ScanPart) error {
				if err := results[i].add(part.Entries); err != nil {
					return err
				}
				open[i] = append(open[i], part.Open...)
				r.mu.Lock()
				defer r.mu.Unlock()
				r.h.notify(api.NoticeSessions, r.cfg.Name)
				hs := r.host[hr.Host]
				hs.Files = int64(results[i].n)
				if part.Done {
					hs.Bytes, hs.Hashed = part.Stats.Bytes, part.Stats.Hashed
					r.scanJournal[hr.Host] = part.Journal
					r.scanned.set(hr.Host, part.Reported)
				}
				for _, w := range part.Warnings {
					switch {
					case unreadable(w):
						// Not synchronised until someone fixes it: an
						// error, so that start --wait fails naming it.
						r.st.ErrorCount++
						if len(r.st.Errors) < maxErrors {
							r.st.Errors = append(r.st.Errors, w)
						}
					case len(r.st.Warnings) < maxErrors:
						r.st.Warnings = append(r.st.Warnings, w.Error())
					}
					if w.Path != "" {
						skippedMu.Lock()
						skipped[w.Path] = true
						skippedMu.Unlock()
					}
				}
				return nil
			})
			if err == nil {
				err = results[i].done()
			}
			if err != nil {
				r.setHost(hr.Host, "failed", err)
				if ctx.Err() == nil && !unreachable(err) {
					return &scanError{host: hr.Host, err: err}
				}
				return err
			}
			r.setHost(hr.Host, "scanned", nil)
			r.h.metrics.Scanned(r.cfg.Name, hr.Host, time.Since(started))
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		closeSpools(results...)
		return nil, nil, nil, err
	}
	for i, hr := range hosts {
		scans[hr.Host] = results[i]
		if len(open[i]) > 0 {
			writing[hr.Host] = open[i]
		}
	}
	return scans, skipped, writing, nil
}

// closeSpools closes and removes spools, logging nothing: a spool left
// behind is removed by the next start-up (spoolDir).
func closeSpools(spools ...*spool) {
	for _, s := range spools {
		if s != nil {
			_ = s.close()
		}
	}
}

// scanError is a host's scan that failed at a start-up, other than by
// the host's leaving: nothing of the start's scans is merged, and the
// supervisor starts over after a while (supervise), since what failed
// may come back.
type scanError struct {
	host string
	err  error
}

func (e *scanError) Error() string { return e.err.Error() }
func (e *scanError) Unwrap() error { return e.err }

// unreachable says whether err is a peer's leaving.
func unreachable(err error) bool {
	var we *wire.Error
	return errors.As(err, &we) && we.Kind == wire.KindUnreachable
}

// unreadable tells a scan warning about a file or folder the agent could
// not read (permission denied, an I/O error...), which only an
// administrator can fix, from one about what peerlink skips by design (a
// symlink, a name no file system can hold) or a file being written right
// now, which the next scan picks up.
func unreadable(w wire.Error) bool {
	return w.Kind != wire.KindInvalid && w.Kind != wire.KindChanged
}

// scanHost has host scan the session's root (or only path and below it)
// and calls each with every part as it arrives.
func scanHost(ctx context.Context, c *broker.Client, session, host, path string, each func(*wire.ScanPart) error) error {
	return scanWith(ctx, c, host, &wire.Scan{Session: session, Path: path}, each)
}

// scanWith is scanHost for the scan m.
func scanWith(ctx context.Context, c *broker.Client, host string, m *wire.Scan, each func(*wire.ScanPart) error) error {
	path := m.Path
	s, err := c.Call(ctx, host, m, nil)
	if err != nil {
		return wire.ToError("scan", host, path, err)
	}
	defer s.Close()
	for {
		in, err := s.Recv(ctx)
		if err != nil {
			return wire.ToError("scan", host, path, err)
		}
		part, ok := in.Msg.(*wire.ScanPart)
		if !ok {
			return fmt.Errorf("scan on %s: unexpected reply %s", host, in.Type)
		}
		if err := each(part); err != nil {
			return err
		}
		if part.Done {
			return nil
		}
	}
}
