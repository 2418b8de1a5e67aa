package hub

import (
	"github.com/peerlink/peerlink/wire"
)

// Inline content on the hub (wire.Inline): a source reports a small
// file's change with its content, and the hub passes that content on with
// the fetches that carry the change to the targets, which then need not
// ask the source for it: a round trip through the broker saved for every
// small file a user saves, over the WAN where round trips are what costs.

// maxInlineHeld bounds the inline content the live loop holds for one
// message it serves, gathered batches included: content beyond it is not
// kept, and its files are fetched as any other.
const maxInlineHeld = 4 * wire.ChunkSize

// inlineSet is the content of small files that came with the message the
// live loop serves, by source host and version. The loop fills it before
// it serves the message and drops it after: whatever needs the content
// later (a repair, a catch-up) fetches it.
type inlineSet struct {
	content map[inlineKey]inlineContent
	held    int
}

type inlineKey struct {
	host  string
	entry wire.Entry
}

type inlineContent struct {
	part wire.Inline
	data []byte
}

// add keeps the inline content of host's changes, whose data is data.
// Data that does not add up is dropped whole: its files are fetched.
func (s *inlineSet) add(host string, changes []wire.Change, data []byte) {
	if len(data) == 0 && !hasInline(changes) {
		return
	}
	parts := make([]*wire.Inline, len(changes))
	for i := range changes {
		parts[i] = changes[i].Inline
	}
	split, err := wire.SplitInline(parts, data)
	if err != nil {
		return
	}
	for i, p := range parts {
		if p == nil || s.held+len(split[i]) > maxInlineHeld {
			continue
		}
		if s.content == nil {
			s.content = map[inlineKey]inlineContent{}
		}
		s.content[inlineKey{host, changes[i].Entry}] = inlineContent{part: *p, data: split[i]}
		s.held += len(split[i])
	}
}

// addClosed keeps the inline content of host's close m, whose data is data.
func (s *inlineSet) addClosed(host string, m *wire.Closed, data []byte) {
	if m.Entry == nil {
		return
	}
	s.add(host, []wire.Change{{Kind: wire.ChangeWrite, Path: m.Path, Entry: *m.Entry, Inline: m.Inline}}, data)
}

func hasInline(changes []wire.Change) bool {
	for i := range changes {
		if changes[i].Inline != nil {
			return true
		}
	}
	return false
}

// attach returns ops with the content of the fetches it holds, as far as
// one frame's data holds it, and that data (nil, and ops as they are, if
// it holds none of theirs).
func (s *inlineSet) attach(ops []wire.Op) ([]wire.Op, []byte) {
	if len(s.content) == 0 {
		return ops, nil
	}
	var out []wire.Op
	var data []byte
	for i, op := range ops {
		if op.Kind != wire.OpFetch {
			continue
		}
		c, ok := s.content[inlineKey{op.From, op.Want}]
		if !ok || len(data)+len(c.data) > wire.ChunkSize {
			continue
		}
		if out == nil {
			out = append([]wire.Op(nil), ops...)
		}
		part := c.part
		out[i].Inline = &part
		data = append(data, c.data...)
	}
	if out == nil {
		return ops, nil
	}
	return out, data
}

// reset drops what the set holds.
func (s *inlineSet) reset() {
	s.content, s.held = nil, 0
}
