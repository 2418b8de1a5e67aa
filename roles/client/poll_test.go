package client

import (
	"testing"
	"time"

	"github.com/peerlink/peerlink/web/api"
)

func TestPollEvery(t *testing.T) {
	status := func(done, total int64) api.SessionStatus {
		return api.SessionStatus{Bytes: api.Counter{Done: done, Total: total}}
	}
	tests := []struct {
		name  string
		since time.Duration
		st    api.SessionStatus
		bps   float64
		want  time.Duration
	}{
		{"the first seconds are polled often", time.Second, status(0, 100e6), 0, 50 * time.Millisecond},
		{"a long transfer is polled at the bar's pace", time.Minute, status(10e6, 100e6), 6e6, 200 * time.Millisecond},
		{"its last second is polled often again", time.Minute, status(95e6, 100e6), 6e6, 50 * time.Millisecond},
		{"a transfer with no rate yet is polled at the bar's pace", time.Minute, status(0, 100e6), 0, 200 * time.Millisecond},
	}
	for _, tt := range tests {
		if got := pollEvery(tt.since, tt.st, tt.bps); got != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}
