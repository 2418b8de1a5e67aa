package wire

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
)

// sample is a valid message of one type, with the data its frame carries.
type sample struct {
	name string
	msg  Message
	data []byte
}

// samples returns at least one valid message of every registered type, with
// every optional field set somewhere.
func samples() []sample {
	chunk := bytes.Repeat([]byte("peerlink\x00\xff"), 1000)
	moved := fileEntry("docs/b.txt")
	moved2 := fileEntry("docs/a.txt")
	return []sample{
		{"hello from the hub", &Hello{Role: RoleHub, Name: HubName, Protocol: ProtocolVersion, Version: "v0.1.0", Token: "s3cret"}, nil},
		{"hello from an agent", &Hello{Role: RoleAgent, Name: "site-b", Protocol: ProtocolVersion, Version: "v0.1.0", Token: "s3cret"}, nil},
		{"welcome", &Welcome{Protocol: ProtocolVersion, Version: "v0.1.0"}, nil},
		{"refused", &Refused{Error: Error{Kind: KindPermission, Op: "hello", Host: "broker", Msg: "token refused by hub; copy the token from HUBDATA/token"}}, nil},
		{"peer up", &Peer{Name: "site-b", Up: true, Version: "v0.1.0", Addr: "192.0.2.7:51234", Since: 1_700_000_000_000_000_000}, nil},
		{"peer down", &Peer{Name: "site-b", Since: 1_700_000_001_000_000_000}, nil},
		{"ok", &OK{}, nil},
		{"fail", &Fail{Error: Error{Kind: KindUnreachable, Op: "read", Host: "site-a", Path: "docs/a.txt", Msg: "site-a is not connected"}}, nil},
		{"attach", &Attach{Session: "docs", Root: "/srv/docs", Exclude: []string{"*.tmp", ".cache/"}}, nil},
		{"attach without excludes", &Attach{Session: "docs", Root: "/srv/docs"}, nil},
		{"detach", &Detach{Session: "docs"}, nil},
		{"root check", &RootCheck{Root: "/srv/projects"}, nil},
		{"sessions", &Sessions{Running: []string{"docs", "plans"}}, nil},
		{"no session running", &Sessions{Running: []string{}}, nil},
		{"scan", &Scan{Session: "docs"}, nil},
		{"catch-up scan", &Scan{Session: "docs", Changed: true, Paths: []string{"a/b.txt", "c"}}, nil},
		{"journal clear", &JournalClear{Session: "docs", Seq: 42}, nil},
		{"credentials", &Credentials{Agents: []Credential{{Name: "site-a", Serial: "1f2e3d"}, {Name: "site-b", Serial: "abc", Revoked: 1_700_000_000_000_000_000}}}, nil},
		{"no credentials", &Credentials{Agents: []Credential{}}, nil},
		{"attached", &Attached{Root: RootIdentity{ID: "0123456789ABCDEF", FS: 7, Inode: 2, Created: true}}, nil},
		{"attach with a root id", &Attach{Session: "docs", Root: "/srv/docs", RootID: "0123456789ABCDEF"}, nil},
		{"scan part", &ScanPart{
			Session:  "docs",
			Entries:  []Entry{dirEntry("docs"), fileEntry("docs/a.txt"), fileEntry("名前/ファイル.txt")},
			Stats:    ScanStats{Files: 2, Dirs: 1, Bytes: 12, Hashed: 1, Skipped: 1},
			Warnings: []Error{{Kind: KindPermission, Op: "scan", Host: "site-b", Path: "private", Msg: "permission denied"}},
		}, nil},
		{"last scan part", &ScanPart{Session: "docs", Done: true}, nil},
		{"apply", &Apply{Session: "docs", Ops: []Op{
			{Kind: OpFetch, Path: "docs/a.txt", From: "site-a", Want: fileEntry("docs/a.txt"), Have: &moved},
			{Kind: OpMkdir, Path: "docs", Want: dirEntry("docs")},
			{Kind: OpMeta, Path: "docs/b.txt", Want: fileEntry("docs/b.txt")},
			{Kind: OpDelete, Path: "old", Have: &Entry{Path: "old", Kind: KindDir}},
			{Kind: OpRename, Path: "docs/c.txt", OldPath: "docs/b.txt", Want: fileEntry("docs/c.txt")},
		}}, nil},
		{"applied", &Applied{Session: "docs", Results: []OpResult{
			{Kind: OpFetch, Path: "docs/a.txt", Entry: fileEntry("docs/a.txt"), Bytes: 6},
			{Kind: OpDelete, Path: "old"},
			{Kind: OpMeta, Path: "docs/b.txt", Error: &Error{Kind: KindBusy, Op: "apply", Host: "site-b", Path: "docs/b.txt", Msg: "device or resource busy"}},
		}}, nil},
		{"last applied", &Applied{Session: "docs", Done: true}, nil},
		{"progress", &Progress{Session: "docs", Bytes: 1 << 20}, nil},
		{"read", &Read{Session: "docs", Path: "docs/a.txt", Offset: 1 << 20, Length: ChunkSize, Size: 3 << 20, Mtime: 1_700_000_000_123_456_789}, nil},
		{"read data", &ReadData{N: len(chunk)}, chunk},
		{"compressed read data", &ReadData{N: ChunkSize, Codec: CodecZstd}, chunk[:777]},
		{"read data at the end", &ReadData{N: 0, EOF: true}, nil},
		{"read many", &ReadMany{Session: "docs", Files: []FileRef{
			{Path: "docs/a.txt", Size: 6, Mtime: 1_700_000_000_123_456_789},
			{Path: "docs/empty", Size: 0, Mtime: 1_700_000_000_000_000_000},
		}}, nil},
		{"read many data", &ReadManyData{Parts: []ReadPart{
			{N: 6, Len: 6},
			{N: ChunkSize, Len: 777, Codec: CodecZstd},
			{},
			{Error: &Error{Kind: KindChanged, Op: "read", Host: "site-a", Path: "docs/b.txt", Msg: "file changed since it was scanned"}},
		}}, append([]byte("hello\n"), chunk[:777]...)},
		{"opened", &Opened{Session: "docs", Path: "docs/a.txt", User: "anna"}, nil},
		{"owners", &Owners{Session: "docs", Paths: []string{"docs/a.txt", "名前/ファイル.txt"}}, nil},
		{"owners data", &OwnersData{Users: []string{"anna", "uid 1001", ""}}, nil},
		{"closed modified", &Closed{Session: "docs", Path: "docs/a.txt", Entry: &moved2}, nil},
		{"closed unmodified", &Closed{Session: "docs", Path: "docs/a.txt"}, nil},
		{"changes", &Changes{Session: "docs", Changes: []Change{
			{Kind: ChangeWrite, Path: "docs/a.txt", Entry: fileEntry("docs/a.txt")},
			{Kind: ChangeMkdir, Path: "docs/new", Entry: dirEntry("docs/new")},
			{Kind: ChangeMeta, Path: "docs/b.txt", Entry: fileEntry("docs/b.txt")},
			{Kind: ChangeRemove, Path: "old"},
			{Kind: ChangeRename, Path: "docs/c.txt", OldPath: "docs/b.txt", Entry: fileEntry("docs/c.txt")},
		}}, nil},
		{"lock", &Lock{Session: "docs", Path: "docs/a.txt", Holder: "site-a", User: "anna"}, nil},
		{"unlock", &Unlock{Session: "docs", Paths: []string{"docs/a.txt", "名前/ファイル.txt"}}, nil},
		{"spans", &Spans{Session: "docs", Path: "docs/a.vmdk", Size: 3 << 30, Mtime: 1_700_000_000_123_456_789, First: 32768}, nil},
		{"spans data", &SpansData{N: 2, Total: 32770}, make([]byte, 2*SigBlockSize)},
		{"chunks", &Chunks{Session: "docs", Path: "docs/a.vmdk", Size: 3 << 30, Mtime: 1, Spans: []ByteRange{{Off: 0, Len: 1 << 20}, {Off: 5 << 20, Len: MaxSpanLen}}}, nil},
		{"chunks data", &ChunksData{Counts: []int{60, 1}}, make([]byte, 61*SigBlockSize)},
		{"clock", &Clock{}, nil},
		{"clock data", &ClockData{Received: 1_700_000_000_123_456_789, Sent: 1_700_000_000_123_457_000}, nil},
		{"warning", &Warning{Session: "docs", Msg: "inotify watch limit reached (fs.inotify.max_user_watches=8192): raise it, e.g. sysctl -w fs.inotify.max_user_watches=1048576; until then site-b scans /srv/docs every 30s"}, nil},
	}
}

// TestSamplesCoverRegistry keeps the round trip and the fuzz corpus honest:
// a type added to the registry must get a sample.
func TestSamplesCoverRegistry(t *testing.T) {
	seen := map[Type]bool{}
	for _, s := range samples() {
		seen[s.msg.Type()] = true
		if err := s.msg.Validate(); err != nil {
			t.Errorf("sample %s is invalid: %v", s.name, err)
		}
	}
	for typ, newMsg := range registry {
		if !seen[typ] {
			t.Errorf("no sample of registered type %q", typ)
		}
		if got := newMsg().Type(); got != typ {
			t.Errorf("registry[%q] makes a %q", typ, got)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	for _, s := range samples() {
		t.Run(s.name, func(t *testing.T) {
			b, err := Marshal("site-b", 7, 3, s.msg, s.data)
			if err != nil {
				t.Fatal(err)
			}
			f, err := DecodeFrame(b)
			if err != nil {
				t.Fatal(err)
			}
			want := Envelope{Type: s.msg.Type(), To: "site-b", ID: 7, Reply: 3}
			if f.Type != want.Type || f.From != "" || f.To != want.To || f.ID != want.ID || f.Reply != want.Reply {
				t.Errorf("envelope %+v, want %+v", f.Envelope, want)
			}
			if !bytes.Equal(f.Data, s.data) || (s.data == nil) != (f.Data == nil) {
				t.Errorf("data of %d bytes, want %d", len(f.Data), len(s.data))
			}
			got, err := Decode(f)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, s.msg) {
				t.Errorf("decoded %#v\nwant    %#v", got, s.msg)
			}
		})
	}
}

func TestRoundTripKeepsSender(t *testing.T) {
	// The broker re-frames what a peer sent with From set; the receiver
	// reads it back.
	b, err := EncodeFrame(Envelope{Type: TypeOK, From: "site-a", To: HubName, Reply: 9, Body: []byte("{}")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	f, err := DecodeFrame(b)
	if err != nil {
		t.Fatal(err)
	}
	if f.From != "site-a" || f.To != HubName || f.Reply != 9 {
		t.Fatalf("envelope %+v", f.Envelope)
	}
}

// TestFrameBytes pins the layout of one frame: peers of other versions read
// it, so a change here is a protocol change.
func TestFrameBytes(t *testing.T) {
	b, err := Marshal(HubName, 7, 0, &Progress{Session: "docs", Bytes: 5}, []byte("xy"))
	if err != nil {
		t.Fatal(err)
	}
	hdr := `{"t":"progress","to":"hub","id":7,"b":{"session":"docs","bytes":5}}`
	want := append([]byte{FrameFormat, 0, 0, 0, byte(len(hdr))}, hdr+"xy"...)
	if !bytes.Equal(b, want) {
		t.Fatalf("frame %q\nwant  %q", b, want)
	}
}

// TestStableNumbers pins the numbers that cross the wire: they are only ever
// appended, never renumbered, or old peers misread them.
func TestStableNumbers(t *testing.T) {
	tests := []struct {
		name      string
		got, want int
	}{
		{"FrameFormat", FrameFormat, 1},
		{"ProtocolVersion", ProtocolVersion, 3},
		{"CodecNone", int(CodecNone), 0},
		{"CodecZstd", int(CodecZstd), 1},
		{"KindFile", int(KindFile), 1},
		{"KindDir", int(KindDir), 2},
		{"OpFetch", int(OpFetch), 1},
		{"OpMkdir", int(OpMkdir), 2},
		{"OpMeta", int(OpMeta), 3},
		{"OpDelete", int(OpDelete), 4},
		{"OpRename", int(OpRename), 5},
		{"KindOther", int(KindOther), 0},
		{"KindPermission", int(KindPermission), 1},
		{"KindNotFound", int(KindNotFound), 2},
		{"KindBusy", int(KindBusy), 3},
		{"KindInvalid", int(KindInvalid), 4},
		{"KindTransient", int(KindTransient), 5},
		{"KindExists", int(KindExists), 6},
		{"KindNoSpace", int(KindNoSpace), 7},
		{"KindChanged", int(KindChanged), 8},
		{"KindUnreachable", int(KindUnreachable), 9},
		{"KindConflict", int(KindConflict), 10},
		{"KindOpen", int(KindOpen), 11},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s = %d, want %d", tt.name, tt.got, tt.want)
		}
	}
}

func TestMessageValidate(t *testing.T) {
	ops := make([]Op, MaxBatch+1)
	for i := range ops {
		ops[i] = Op{Kind: OpDelete, Path: "a"}
	}
	tests := []struct {
		name    string
		msg     Message
		wantErr string
	}{
		{"a hub not named hub is refused", &Hello{Role: RoleHub, Name: "central"}, `the hub must be named "hub", not "central"`},
		{"an agent named hub is refused", &Hello{Role: RoleAgent, Name: HubName}, `an agent cannot be named "hub"`},
		{"an unknown role is refused", &Hello{Role: "broker", Name: "b"}, `unknown role "broker"`},
		{"a missing role is refused", &Hello{Name: "site-b"}, `unknown role ""`},
		{"an agent with a bad name is refused", &Hello{Role: RoleAgent, Name: "site b"}, `host name "site b"`},
		{"a peer with a bad name is refused", &Peer{Name: ""}, `host name ""`},
		{"an attach with a bad session is refused", &Attach{Session: "../x", Root: "/srv"}, `session name "../x"`},
		{"an attach with a root id holding a newline is refused", &Attach{Session: "docs", Root: "/srv", RootID: "a\nb"}, "root id"},
		{"an attach without a root is refused", &Attach{Session: "docs"}, "session docs: empty root"},
		{"a detach without a session is refused", &Detach{}, `session name ""`},
		{"a catch-up scan of a path out of the root is refused", &Scan{Session: "docs", Changed: true, Paths: []string{"../etc"}}, ".."},
		{"a scan part with a root out of the root is refused", &ScanPart{Session: "docs", Roots: []string{"/etc"}}, "/etc"},
		{"a root check without a root is refused", &RootCheck{}, "root is empty"},
		{"sessions with a bad name are refused", &Sessions{Running: []string{"docs", "../x"}}, `session name "../x"`},
		{"sessions over the batch limit are refused", &Sessions{Running: make([]string, MaxBatch+1)}, "sessions: 4097 running, more than 4096"},
		{"a scan without a session is refused", &Scan{}, `session name ""`},
		{"a scan part with a bad entry is refused", &ScanPart{Session: "docs", Entries: []Entry{fileEntry("a//b")}}, "empty element"},
		{"a scan part over the batch limit is refused", &ScanPart{Session: "docs", Entries: make([]Entry, MaxBatch+1)}, "4097 entries exceed the batch limit 4096"},
		{"an apply with a bad op is refused", &Apply{Session: "docs", Ops: []Op{{Kind: OpMkdir, Path: "d"}}}, "mkdir d: wants a folder"},
		{"an apply over the batch limit is refused", &Apply{Session: "docs", Ops: ops}, "4097 ops exceed the batch limit 4096"},
		{"an applied result on a bad path is refused", &Applied{Session: "docs", Results: []OpResult{{Kind: OpDelete, Path: "/a"}}}, "absolute"},
		{"an applied result with a bad entry is refused", &Applied{Session: "docs", Results: []OpResult{{Kind: OpMeta, Path: "a", Entry: Entry{Kind: KindFile, Size: 1}}}}, "empty"},
		{"an applied result with a folder of some size is refused", &Applied{Session: "docs", Results: []OpResult{{Kind: OpMkdir, Path: "a", Entry: Entry{Path: "a", Kind: KindDir, Size: 3}}}}, "a folder has no size"},
		{"a failed applied result needs no entry", &Applied{Session: "docs", Results: []OpResult{{Kind: OpFetch, Path: "a", Error: &Error{Kind: KindChanged}}}}, ""},
		{"an applied over the batch limit is refused", &Applied{Session: "docs", Results: make([]OpResult, MaxBatch+1)}, "4097 results exceed the batch limit 4096"},
		{"a progress without a session is refused", &Progress{}, `session name ""`},
		{"a read on a bad path is refused", &Read{Session: "docs", Path: "a/../../b", Length: 1}, `".." element`},
		{"a read at a negative offset is refused", &Read{Session: "docs", Path: "a", Offset: -1, Length: 1}, "read a: offset -1 length 1 out of range"},
		{"a read of nothing is refused", &Read{Session: "docs", Path: "a"}, "read a: offset 0 length 0 out of range"},
		{"read data in an unknown codec is refused", &ReadData{N: 10, Codec: 2}, "read data: unknown codec 2"},
		{"a part in an unknown codec is refused", &ReadManyData{Parts: []ReadPart{{N: 10, Len: 5, Codec: 200}}}, "read many data: part 0: unknown codec 200"},
		{"an encoded part with an error is refused", &ReadManyData{Parts: []ReadPart{{Codec: CodecZstd, Error: &Error{Kind: KindChanged}}}}, "part 0 carries both data and an error"},
		{"a read over a chunk is refused", &Read{Session: "docs", Path: "a", Length: ChunkSize + 1}, "length 1048577 out of range"},
		{"read data of negative length is refused", &ReadData{N: -1}, "read data: length -1 out of range"},
		{"read data over a chunk is refused", &ReadData{N: ChunkSize + 1}, "read data: length 1048577 out of range"},
		{"spans from a negative span are refused", &Spans{Session: "docs", Path: "a", Size: 1, First: -1}, "spans a: size 1 from span -1 out of range"},
		{"spans data over the page limit is refused", &SpansData{N: MaxSpans + 1, Total: MaxSpans + 1}, "spans data: 32769 spans"},
		{"spans data with more than its total is refused", &SpansData{N: 2, Total: 1}, "spans data: 2 spans of 1"},
		{"chunks of no span are refused", &Chunks{Session: "docs", Path: "a", Size: 10}, "chunks a: 0 spans"},
		{"chunks of a span past the end are refused", &Chunks{Session: "docs", Path: "a", Size: 10, Spans: []ByteRange{{Off: 5, Len: 6}}}, "span 5+6 out of range"},
		{"chunks of a span over the limit are refused", &Chunks{Session: "docs", Path: "a", Size: 1 << 30, Spans: []ByteRange{{Len: MaxSpanLen + 1}}}, "out of range"},
		{"chunks of too many bytes are refused", &Chunks{Session: "docs", Path: "a", Size: 1 << 30, Spans: []ByteRange{{Len: MaxSpanLen}, {Off: MaxSpanLen, Len: MaxSpanLen}, {Off: 2 * MaxSpanLen, Len: MaxSpanLen}, {Off: 3 * MaxSpanLen, Len: MaxSpanLen}, {Off: 4 * MaxSpanLen, Len: 1}}}, "exceed 16777216"},
		{"chunks data of an empty span is refused", &ChunksData{Counts: []int{0}}, "a span of 0 chunks"},
		{"chunks data beyond a frame is refused", &ChunksData{Counts: []int{MaxData}}, "exceed a frame"},
		{"owners of no path is refused", &Owners{Session: "docs"}, "owners: 0 paths, want 1 to 4096"},
		{"owners of a bad path is refused", &Owners{Session: "docs", Paths: []string{"../etc/passwd"}}, `".." element`},
		{"owners data with a huge name is refused", &OwnersData{Users: []string{strings.Repeat("x", MaxOwnerLen+1)}}, "a name of 257 bytes exceeds 256"},
		{"a warning without a session is refused", &Warning{Msg: "x"}, `session name ""`},
		{"an empty warning is refused", &Warning{Session: "docs"}, "warning: 0 bytes, want 1 to 1024"},
		{"a warning over the length limit is refused", &Warning{Session: "docs", Msg: strings.Repeat("x", MaxWarningLen+1)}, "warning: 1025 bytes"},
		{"credentials over the limit are refused", &Credentials{Agents: make([]Credential, MaxCredentials+1)}, "credentials: 10001 hosts, at most 10000"},
		{"credentials with a bad name are refused", &Credentials{Agents: []Credential{{Name: "../x", Serial: "1"}}}, `host name "../x"`},
		{"credentials for the hub are refused", &Credentials{Agents: []Credential{{Name: HubName, Serial: "1"}}}, `an agent cannot be named "hub"`},
		{"credentials naming a host twice are refused", &Credentials{Agents: []Credential{{Name: "a", Serial: "1"}, {Name: "a", Serial: "2"}}}, "host a listed twice"},
		{"credentials with an empty serial are refused", &Credentials{Agents: []Credential{{Name: "a"}}}, "serial \"\" is not"},
		{"credentials with a serial not hex are refused", &Credentials{Agents: []Credential{{Name: "a", Serial: "12G"}}}, "serial \"12G\" is not"},
		{"credentials with a long serial are refused", &Credentials{Agents: []Credential{{Name: "a", Serial: strings.Repeat("f", 41)}}}, "is not 1 to 40 lower-case hex digits"},
		{"credentials revoked before 1970 are refused", &Credentials{Agents: []Credential{{Name: "a", Serial: "1", Revoked: -1}}}, "revoked time -1 is negative"},
		{"a warning that is not UTF-8 is refused", &Warning{Session: "docs", Msg: "\xff"}, "of UTF-8 text"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkErr(t, tt.msg.Validate(), tt.wantErr)
		})
	}
}

func TestDecodeNamesTheType(t *testing.T) {
	// A body that fails validation is refused by Decode, naming the type,
	// with the path error still reachable.
	b, err := EncodeFrame(Envelope{Type: TypeRead, Body: []byte(`{"session":"docs","path":"../etc/passwd","off":0,"len":10,"size":10,"mtime":0}`)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	f, err := DecodeFrame(b)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Decode(f)
	checkErr(t, err, "decode read: ")
	checkPathErr(t, err, "../etc/passwd")
	if strings.Count(err.Error(), "decode read") != 1 {
		t.Fatalf("error %q names the type more than once", err)
	}
}
