package wire

import "fmt"

// MaxReadMany bounds the files of one ReadMany.
const MaxReadMany = 512

// ReadMany asks a source agent for several small files, whole, in one round
// trip: one frame each way however many files, where Read costs a frame each
// way per file. Each file's Size and Mtime are what the target expects, as in
// Read; the sizes add up to at most ChunkSize, so the answer fits one frame.
type ReadMany struct {
	Session string    `json:"session"`
	Files   []FileRef `json:"files"`
}

// FileRef names one whole file of a ReadMany and the version wanted.
type FileRef struct {
	Path  string `json:"path"`
	Size  int64  `json:"size"`
	Mtime int64  `json:"mtime"`
}

func (*ReadMany) Type() Type { return TypeReadMany }
func (m *ReadMany) Validate() error {
	if err := CheckName("session", m.Session); err != nil {
		return err
	}
	if len(m.Files) == 0 || len(m.Files) > MaxReadMany {
		return fmt.Errorf("read many: %d files, want 1 to %d", len(m.Files), MaxReadMany)
	}
	var total int64
	for _, f := range m.Files {
		if err := CheckPath(f.Path); err != nil {
			return err
		}
		if f.Size < 0 || f.Size > ChunkSize {
			return fmt.Errorf("read many %s: size %d out of range", f.Path, f.Size)
		}
		total += f.Size
	}
	if total > ChunkSize {
		return fmt.Errorf("read many: %d bytes in all exceed %d", total, ChunkSize)
	}
	return nil
}

// ReadManyData answers a ReadMany: one part per file, in the request's
// order. The parts' bytes travel one after the other as the frame's data,
// each encoded on its own (ReadPart.Codec) or, when Codec is set, all of
// them as one piece: the data is then the parts' content, one after the
// other, encoded with Codec (one zstd frame that declares the sum of the
// parts' N), and every part's Len is its N. One piece keeps the context of
// the files before it, which small files compressed one by one lose.
type ReadManyData struct {
	Parts []ReadPart `json:"parts"`
	Codec Codec      `json:"c,omitempty"`
}

// ReadPart is one file of a ReadManyData: N bytes of content carried in Len
// bytes of the frame's data (encoded with Codec), or the Error that kept the
// source from reading that file.
type ReadPart struct {
	N     int    `json:"n"`
	Len   int    `json:"len,omitempty"`
	Codec Codec  `json:"c,omitempty"`
	Error *Error `json:"err,omitempty"`
}

func (*ReadManyData) Type() Type { return TypeReadManyData }
func (m *ReadManyData) Validate() error {
	if len(m.Parts) > MaxReadMany {
		return fmt.Errorf("read many data: %d parts exceed %d", len(m.Parts), MaxReadMany)
	}
	if err := m.Codec.Check(); err != nil {
		return fmt.Errorf("read many data: %w", err)
	}
	total := 0
	for i, p := range m.Parts {
		if p.N < 0 || p.N > ChunkSize || p.Len < 0 || p.Len > MaxData {
			return fmt.Errorf("read many data: part %d: length %d in %d bytes out of range", i, p.N, p.Len)
		}
		if err := p.Codec.Check(); err != nil {
			return fmt.Errorf("read many data: part %d: %w", i, err)
		}
		if p.Error != nil && (p.N != 0 || p.Len != 0 || p.Codec != CodecNone) {
			return fmt.Errorf("read many data: part %d carries both data and an error", i)
		}
		if p.Codec == CodecNone && p.Len != p.N {
			return fmt.Errorf("read many data: part %d: %d uncompressed bytes in %d", i, p.N, p.Len)
		}
		if m.Codec != CodecNone && p.Codec != CodecNone {
			return fmt.Errorf("read many data: part %d encoded inside a batch encoded as a whole", i)
		}
		total += p.Len
	}
	if total > MaxData {
		return fmt.Errorf("read many data: %d bytes in all exceed %d", total, MaxData)
	}
	return nil
}
