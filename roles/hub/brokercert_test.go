package hub

import (
	"strings"
	"testing"
)

func TestCheckHostNames(t *testing.T) {
	tests := []struct {
		name    string
		names   []string
		wantErr string
	}{
		{"a host name is taken", []string{"broker.example.com"}, ""},
		{"addresses are taken", []string{"127.0.0.1", "::1", "broker"}, ""},
		{"no name is refused", nil, "0 names"},
		{"too many names are refused", make([]string, maxBrokerNames+1), "17 names"},
		{"an empty label is refused", []string{"broker..example"}, "not a host name"},
		{"a label starting with '-' is refused", []string{"-broker"}, "not a host name"},
		{"a wildcard is refused", []string{"*.example.com"}, "not a host name"},
		{"a URL is refused", []string{"wss://broker:61617"}, "not a host name"},
		{"a name over 253 bytes is refused", []string{strings.Repeat("a.", 126) + "aa"}, "not a host name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkHostNames(tt.names)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("checkHostNames(%q) = %v, want nil", tt.names, err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("checkHostNames(%q) = %v, want an error saying %q", tt.names, err, tt.wantErr)
			}
		})
	}
}
