package wanlink

import (
	"sync/atomic"

	"github.com/Shopify/toxiproxy/v2/toxics"
)

// countType is the toxic type name of countToxic in Toxiproxy's registry.
const countType = "peerlink_wanlink_count"

// Toxiproxy makes a toxic by type name from its registry, which only an
// init can fill before any proxy exists.
func init() { toxics.Register(countType, new(countToxic)) }

// countToxic passes every chunk on unchanged and counts its bytes. One
// instance serves every connection of its link in one direction, so the
// count is the link's.
type countToxic struct {
	n atomic.Int64
}

func (t *countToxic) Pipe(stub *toxics.ToxicStub) {
	for {
		select {
		case <-stub.Interrupt:
			return
		case c := <-stub.Input:
			if c == nil {
				stub.Close()
				return
			}
			t.n.Add(int64(len(c.Data)))
			stub.Output <- c
		}
	}
}
