package api

import (
	"encoding/json"
	"testing"
	"time"
)

func TestDurationJSON(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want time.Duration
		out  string
	}{
		{"minutes as Go writes them", `"5m0s"`, 5 * time.Minute, `"5m0s"`},
		{"seconds in short", `"90s"`, 90 * time.Second, `"1m30s"`},
		{"zero releases at once", `"0s"`, 0, `"0s"`},
		{"a bare zero", `"0"`, 0, `"0s"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var d Duration
			if err := json.Unmarshal([]byte(tt.in), &d); err != nil {
				t.Fatalf("unmarshal %s: %v", tt.in, err)
			}
			if time.Duration(d) != tt.want {
				t.Errorf("unmarshal %s = %v, want %v", tt.in, time.Duration(d), tt.want)
			}
			b, err := json.Marshal(d)
			if err != nil || string(b) != tt.out {
				t.Errorf("marshal %v = %s, %v; want %s", tt.want, b, err, tt.out)
			}
		})
	}
	for _, bad := range []string{`"5 minutes"`, `300`, `""`} {
		var d Duration
		if err := json.Unmarshal([]byte(bad), &d); err == nil {
			t.Errorf("unmarshal %s: no error, got %v", bad, d)
		}
	}
}

func TestSessionConfigLockGraceOmitted(t *testing.T) {
	var cfg SessionConfig
	if err := json.Unmarshal([]byte(`{"name":"s"}`), &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.LockGrace != nil {
		t.Errorf("lock_grace absent decoded as %v, want nil (the hub's default)", *cfg.LockGrace)
	}
}
