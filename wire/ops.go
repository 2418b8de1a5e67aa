package wire

import "fmt"

// OpKind is what an Apply asks a target to do to one path.
type OpKind uint8

const (
	OpFetch  OpKind = 1 // copy content from host From, then set mtime and mode
	OpMkdir  OpKind = 2 // create the folder (and its parents)
	OpMeta   OpKind = 3 // content is already right: set mtime and mode only
	OpDelete OpKind = 4 // remove the file or folder tree
	OpRename OpKind = 5 // rename OldPath to Path
)

func (k OpKind) String() string {
	switch k {
	case OpFetch:
		return "fetch"
	case OpMkdir:
		return "mkdir"
	case OpMeta:
		return "meta"
	case OpDelete:
		return "delete"
	case OpRename:
		return "rename"
	}
	return fmt.Sprintf("op(%d)", k)
}

// Op is one change a target applies to its copy of one path.
type Op struct {
	Kind    OpKind `json:"op"`
	Path    string `json:"path"`
	From    string `json:"from,omitempty"`    // OpFetch: the source host
	OldPath string `json:"oldpath,omitempty"` // OpRename
	// Want is the entry the path must end as (fetch, mkdir, meta, rename).
	Want Entry `json:"want,omitzero"`
	// Have is what the hub last saw of the target's copy; nil means "absent".
	// A target whose copy no longer matches refuses the op (KindChanged)
	// rather than overwrite a change the hub has not seen.
	Have *Entry `json:"have,omitempty"`
	// Delta, on a fetch, lets the target rebuild the file from its copy
	// (if that is still Have) plus what differs (sync/delta), rather than
	// receive it whole; the hub sets it by the session's settings.
	Delta bool `json:"delta,omitempty"`
	// Inline, on a fetch of a small file, is its content, in the Apply's
	// data (see Inline): the target need not ask the source for it.
	Inline *Inline `json:"inline,omitempty"`
}

// Validate checks one op.
func (o *Op) Validate() error {
	if err := CheckPath(o.Path); err != nil {
		return err
	}
	switch o.Kind {
	case OpFetch:
		if err := CheckName("host", o.From); err != nil {
			return fmt.Errorf("fetch %s: %w", o.Path, err)
		}
		if o.Want.Kind != KindFile {
			return fmt.Errorf("fetch %s: wants a file", o.Path)
		}
		if o.Inline != nil {
			if err := o.Inline.check(o.Want.Size); err != nil {
				return fmt.Errorf("fetch %s: %w", o.Path, err)
			}
		}
	case OpMkdir:
		if o.Want.Kind != KindDir {
			return fmt.Errorf("mkdir %s: wants a folder", o.Path)
		}
	case OpMeta:
	case OpDelete:
	case OpRename:
		if err := CheckPath(o.OldPath); err != nil {
			return fmt.Errorf("rename to %s: %w", o.Path, err)
		}
	default:
		return fmt.Errorf("%s: unknown op %d", o.Path, o.Kind)
	}
	if o.Inline != nil && o.Kind != OpFetch {
		return fmt.Errorf("%s %s: inline content", o.Kind, o.Path)
	}
	if o.Kind != OpDelete {
		if o.Want.Path != o.Path {
			return fmt.Errorf("%s %s: wanted entry names %q", o.Kind, o.Path, o.Want.Path)
		}
		if err := o.Want.Validate(); err != nil {
			return err
		}
	}
	if o.Have != nil {
		if err := o.Have.Validate(); err != nil {
			return err
		}
	}
	return nil
}

// Apply asks a target agent to apply ops to its copy of a session's root. It
// answers with Applied batches, the last one Done, or a Fail.
type Apply struct {
	Session string `json:"session"`
	Ops     []Op   `json:"ops"`
	// Seen is the Seq of the target's last Changes the hub had handled
	// when it planned these ops (0: not known). A folder rename moves
	// along whatever the target made in the folder since, which the hub
	// did not know of: the target reports those paths again at their new
	// place.
	Seen uint64 `json:"seen,omitempty"`
	// Numbered says the hub numbers its handling of the target's reports:
	// Seen 0 then means it had handled none yet, rather than not known.
	Numbered bool `json:"numbered,omitempty"`
}

func (*Apply) Type() Type { return TypeApply }
func (m *Apply) Validate() error {
	if err := CheckName("session", m.Session); err != nil {
		return err
	}
	if len(m.Ops) > MaxBatch {
		return fmt.Errorf("%d ops exceed the batch limit %d", len(m.Ops), MaxBatch)
	}
	for i := range m.Ops {
		if err := m.Ops[i].Validate(); err != nil {
			return err
		}
	}
	return nil
}

// OpResult reports one applied (or failed) op.
type OpResult struct {
	Kind OpKind `json:"op"`
	Path string `json:"path"`
	// Entry is the path as it now is on the target. Omitted (zero) on a
	// success other than a delete, it is the op's Want: the target sends
	// only what the hub does not know already (protocol 3).
	Entry Entry `json:"entry,omitzero"`
	Bytes int64 `json:"bytes,omitempty"`
	// Wire is, for a fetch, the bytes of content that crossed the link for
	// it, after delta and compression (a batch of small files has its
	// whole count on its first file).
	Wire  int64  `json:"wire,omitempty"`
	Error *Error `json:"error,omitempty"`
}

// Applied is a batch of results of one Apply.
type Applied struct {
	Session string     `json:"session"`
	Results []OpResult `json:"results,omitempty"`
	Done    bool       `json:"done,omitempty"`
}

func (*Applied) Type() Type { return TypeApplied }
func (m *Applied) Validate() error {
	if err := CheckName("session", m.Session); err != nil {
		return err
	}
	if len(m.Results) > MaxBatch {
		return fmt.Errorf("%d results exceed the batch limit %d", len(m.Results), MaxBatch)
	}
	for _, r := range m.Results {
		if err := CheckPath(r.Path); err != nil {
			return err
		}
		if r.Error == nil && r.Kind != OpDelete && r.Entry != (Entry{}) {
			if err := r.Entry.Validate(); err != nil {
				return err
			}
		}
	}
	return nil
}

// Progress reports bytes written by a target since its last Progress, so the
// hub can show a long transfer moving.
type Progress struct {
	Session string `json:"session"`
	Bytes   int64  `json:"bytes"`
}

func (*Progress) Type() Type        { return TypeProgress }
func (m *Progress) Validate() error { return CheckName("session", m.Session) }

// Read asks a source agent for up to Length bytes of a file from Offset. Size
// and Mtime are what the target expects the file to be: a source whose file
// no longer matches answers Fail with KindChanged instead of mixing versions.
type Read struct {
	Session string `json:"session"`
	Path    string `json:"path"`
	Offset  int64  `json:"off"`
	Length  int    `json:"len"`
	Size    int64  `json:"size"`
	Mtime   int64  `json:"mtime"`
	// Raw asks for uncompressed data: the target sets it once a chunk of
	// this file came back incompressible, so the source stops wasting CPU.
	Raw bool `json:"raw,omitempty"`
}

func (*Read) Type() Type { return TypeRead }
func (m *Read) Validate() error {
	if err := CheckName("session", m.Session); err != nil {
		return err
	}
	if err := CheckPath(m.Path); err != nil {
		return err
	}
	if m.Offset < 0 || m.Length <= 0 || m.Length > ChunkSize {
		return fmt.Errorf("read %s: offset %d length %d out of range", m.Path, m.Offset, m.Length)
	}
	return nil
}

// ReadData answers a Read; the bytes travel as the frame's data, encoded
// with Codec.
type ReadData struct {
	N     int   `json:"n"` // length of the content the data decodes to
	Codec Codec `json:"c,omitempty"`
	EOF   bool  `json:"eof,omitempty"`
}

func (*ReadData) Type() Type { return TypeReadData }
func (m *ReadData) Validate() error {
	if m.N < 0 || m.N > ChunkSize {
		return fmt.Errorf("read data: length %d out of range", m.N)
	}
	if err := m.Codec.Check(); err != nil {
		return fmt.Errorf("read data: %w", err)
	}
	return nil
}
