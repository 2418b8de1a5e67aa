package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/peerlink/peerlink/conflict"
)

// A valid definition, from which each case of the table changes one field.
const validConfig = `{"name":"s","hosts":[{"host":"site-a","root":"/srv/a"},{"host":"site-b","root":"C:\\share"}]}`

var namePattern = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]*$`)

// fieldPattern is every name a FieldError may give.
var fieldPattern = regexp.MustCompile(`^(name|hosts|hosts\[\d+\]\.(host|root)|exclude|exclude\[\d+\]|options\.resolver|options\.delete_master|protect_days|lock_grace|delta_min)$`)

func TestSessionConfigCheck(t *testing.T) {
	many := func(n int, s string) string {
		return `"` + strings.TrimSuffix(strings.Repeat(s+`","`, n), `","`) + `"`
	}
	hosts := func(n int) string {
		var b strings.Builder
		for i := range n {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(`{"host":"h` + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + string(rune('a'+i/26)) + `","root":"/r"}`)
		}
		return b.String()
	}
	for _, tc := range []struct {
		name, change, field, says string
	}{
		{"the valid definition passes", ``, "", ""},
		{"protect days at the bound pass", `"protect_days":3650`, "", ""},
		{"protect days of 999999 are refused", `"protect_days":999999`, "protect_days", "from 1 to 3650"},
		{"protect days of 2^62 are refused", `"protect_days":4611686018427387904`, "protect_days", "from 1 to 3650"},
		{"negative protect days are refused", `"protect_days":-1`, "protect_days", "from 1 to 3650"},
		{"a lock grace of a week passes", `"lock_grace":"168h"`, "", ""},
		{"a lock grace beyond a week is refused", `"lock_grace":"168h0m1s"`, "lock_grace", "from 0s to 168h0m0s"},
		{"a negative lock grace is refused", `"lock_grace":"-1s"`, "lock_grace", "from 0s"},
		{"delta from 1 TiB passes", `"delta":true,"delta_min":1099511627776`, "", ""},
		{"delta off passes", `"delta":false`, "", ""},
		{"a delta size beyond 1 TiB is refused", `"delta_min":1099511627777`, "delta_min", "to 1TiB"},
		{"a negative delta size is refused", `"delta_min":-1`, "delta_min", "from 1 byte"},
		{"1000 exclude patterns pass", `"exclude":[` + many(1000, "*.bak") + `]`, "", ""},
		{"1001 exclude patterns are refused", `"exclude":[` + many(1001, "*.bak") + `]`, "exclude", "at most 1000"},
		{"a long exclude pattern is refused", `"exclude":["` + strings.Repeat("a", 1025) + `"]`, "exclude[0]", "longer than 1024"},
		{"an exclude pattern with NUL is refused", `"exclude":["ok","a\u0000b"]`, "exclude[1]", "NUL"},
		{"an empty exclude pattern is refused", `"exclude":[""]`, "exclude[0]", "empty"},
		{"a root with NUL is refused", `"hosts":[{"host":"a","root":"/srv/a\u0000b"},{"host":"b","root":"/b"}]`, "hosts[0].root", "NUL"},
		{"a root with a newline is refused", `"hosts":[{"host":"a","root":"/a"},{"host":"b","root":"/srv/b\n"}]`, "hosts[1].root", "a newline"},
		{"a relative root is refused", `"hosts":[{"host":"a","root":"srv/a"},{"host":"b","root":"/b"}]`, "hosts[0].root", "not an absolute path"},
		{"a drive-relative root is refused", `"hosts":[{"host":"a","root":"C:share"},{"host":"b","root":"/b"}]`, "hosts[0].root", "not an absolute path"},
		{"a root beyond PATH_MAX is refused", `"hosts":[{"host":"a","root":"/` + strings.Repeat("a", 4096) + `"},{"host":"b","root":"/b"}]`, "hosts[0].root", "longer than 4096"},
		{"one host is refused", `"hosts":[{"host":"a","root":"/a"}]`, "hosts", "2 to 100"},
		{"101 hosts are refused", `"hosts":[` + hosts(101) + `]`, "hosts", "2 to 100"},
		{"a host named twice is refused", `"hosts":[{"host":"a","root":"/a"},{"host":"a","root":"/b"}]`, "hosts[1].host", "named twice"},
		{"a bad host name is refused", `"hosts":[{"host":"a","root":"/a"},{"host":"../b","root":"/b"}]`, "hosts[1].host", "host name"},
		{"a bad session name is refused", `"name":"a b"`, "name", "session name"},
		{"an unknown resolver is refused", `"options":{"resolver":"coin"}`, "options.resolver", "last-modified or manual"},
		{"a delete master outside the session is refused", `"options":{"delete_master":"site-z"}`, "options.delete_master", "site-z is not a host of session s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := validConfig
			if tc.change != "" {
				body = strings.TrimSuffix(validConfig, "}") + "," + tc.change + "}"
			}
			cfg, err := decodeConfig([]byte(body))
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			err = cfg.Check()
			if tc.field == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var fe *FieldError
			if !errors.As(err, &fe) || !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v, want a *FieldError that is ErrInvalid", err)
			}
			if fe.Field != tc.field || !strings.Contains(err.Error(), tc.says) {
				t.Errorf("refused as %q: %v; want field %s, saying %q", fe.Field, err, tc.field, tc.says)
			}
		})
	}
}

// decodeConfig decodes a definition as the API's handlers do: strictly,
// one JSON value.
func decodeConfig(b []byte) (SessionConfig, error) {
	var cfg SessionConfig
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cfg); err != nil {
		return cfg, err
	}
	if _, err := dec.Token(); err == nil {
		return cfg, errors.New("more than one value")
	}
	return cfg, nil
}

// FuzzSessionConfig: any definition the API decodes is either refused
// with a *FieldError naming one of its fields, or within every bound, as
// checked here independently of Check.
func FuzzSessionConfig(f *testing.F) {
	for _, s := range []string{
		validConfig,
		`{"name":"s","hosts":[{"host":"a","root":"/a"},{"host":"b","root":"/b"}],"protect_days":4611686018427387904}`,
		`{"name":"s","hosts":[{"host":"a","root":"/a"},{"host":"b","root":"/b"}],"protect_days":3650,"lock_grace":"168h"}`,
		`{"name":"s","hosts":[{"host":"a","root":"/a"},{"host":"b","root":"/b"}],"lock_grace":"2562047h47m16.854775807s"}`,
		`{"name":"s","hosts":[{"host":"a","root":"/a"},{"host":"b","root":"/b"}],"delta":false,"delta_min":-9223372036854775808}`,
		`{"name":"s","hosts":[{"host":"a","root":"/a\u0000"},{"host":"b","root":"/b\n"}]}`,
		`{"name":"s","hosts":[{"host":"a","root":"/a"},{"host":"b","root":"/b"}],"exclude":["*.tmp","a\u0000","/x/**/y/"]}`,
		`{"name":"S","hosts":[{"host":"a","root":"C:\\a"},{"host":"b","root":"/b"}],"options":{"resolver":"manual","delete_master":"b","truncate_ms":true}}`,
		`{"name":"s","hosts":[{"host":"a","root":"/a"},{"host":"a","root":"/b"}],"target_protection":false,"protect_days":-5}`,
		`{}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		cfg, err := decodeConfig(b)
		if err != nil {
			return // the API answers 400 before any check
		}
		err = cfg.Check()
		if err != nil {
			var fe *FieldError
			if !errors.As(err, &fe) || !errors.Is(err, ErrInvalid) {
				t.Fatalf("refused without naming a field: %v", err)
			}
			if !fieldPattern.MatchString(fe.Field) || fe.Msg == "" {
				t.Fatalf("refused naming field %q (%q): %v", fe.Field, fe.Msg, err)
			}
			return
		}
		if why := outOfBounds(cfg); why != "" {
			t.Fatalf("passed, but %s: %+v", why, cfg)
		}
	})
}

// outOfBounds says which bound a definition breaks, or "".
func outOfBounds(c SessionConfig) string {
	nameOK := func(s string) bool { return len(s) <= 64 && namePattern.MatchString(s) }
	switch {
	case !nameOK(c.Name):
		return "the name is not a name"
	case len(c.Hosts) < 2 || len(c.Hosts) > MaxHosts:
		return "the number of hosts is out of range"
	case len(c.Exclude) > MaxExclude:
		return "there are too many exclude patterns"
	case c.ProtectDays < 0 || c.ProtectDays > MaxProtectDays:
		return "protect_days is out of range"
	case c.ProtectDays > 0 && time.Duration(c.ProtectDays)*24*time.Hour/(24*time.Hour) != time.Duration(c.ProtectDays):
		return "protect_days overflows a duration"
	case c.LockGrace != nil && (*c.LockGrace < 0 || time.Duration(*c.LockGrace) > MaxLockGrace):
		return "lock_grace is out of range"
	case c.DeltaMin < 0 || c.DeltaMin > MaxDeltaMin:
		return "delta_min is out of range"
	}
	switch c.Options.Resolver {
	case "", conflict.LastModified, conflict.Manual:
	default:
		return "the resolver is unknown"
	}
	seen := map[string]bool{}
	for _, hr := range c.Hosts {
		if !nameOK(hr.Host) || seen[hr.Host] {
			return "a host is not a name, or named twice"
		}
		seen[hr.Host] = true
		r := hr.Root
		if len(r) > MaxRootLen || !utf8.ValidString(r) || strings.ContainsFunc(r, func(c rune) bool { return c < 0x20 || c == 0x7f }) {
			return "a root is too long, not UTF-8 or holds a control character"
		}
		if !strings.HasPrefix(r, "/") && !(len(r) > 2 && r[1] == ':' && (r[2] == '/' || r[2] == '\\')) {
			return "a root is not absolute"
		}
	}
	if m := c.Options.DeleteMaster; m != "" && !seen[m] {
		return "the delete master is not a host"
	}
	for _, p := range c.Exclude {
		if p == "" || len(p) > MaxPatternLen || !utf8.ValidString(p) || strings.IndexByte(p, 0) >= 0 {
			return "an exclude pattern is empty, too long, not UTF-8 or holds NUL"
		}
	}
	return ""
}
