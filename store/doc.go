// Package store owns what the hub and the agents keep on disk: the bbolt
// schema of hub.db and agent.db and the typed accessors that read and write
// them. Nothing else in peerlink opens those files.
//
// # Schema (version 1)
//
// Both files carry a "meta" bucket: "schema" is the schema version as a
// 4-byte big-endian uint32 and "role" is "hub" or "agent". A file whose
// schema is newer than this build knows is refused (ErrSchema); a file of
// the other role is refused too.
//
// hub.db, top-level buckets:
//
//	sessions     session name -> Session as JSON
//	states       session name -> SessionState as JSON
//	index        one sub-bucket per session: path -> index record (binary, below)
//	indexhosts   session name -> host table (binary, below)
//	indexnew     scratch sub-buckets ReplaceIndex fills before swapping them
//	             into "index"; emptied at open (left over by a crash)
//	quarantines  one sub-bucket per session: path -> Quarantine as JSON
//	events       one sub-bucket per session ("-" for the hub-wide log):
//	             8-byte big-endian sequence -> Event as JSON; the
//	             sub-bucket's bbolt sequence is the last number handed out
//	agents       agent name -> AgentSeen as JSON
//	settings     key -> raw bytes
//
// agent.db, top-level buckets:
//
//	cache        one sub-bucket per session: path -> cache entry (binary, below)
//	locks        one sub-bucket per session: path -> LockRecord as JSON
//
// Paths are keys as they travel on the wire (wire.CheckPath), so bbolt's
// byte order is path order and a folder's contents follow "folder/".
//
// # Binary encodings
//
// uvarint is encoding/binary's unsigned varint; i64 is an int64 as 8
// big-endian bytes (two's complement). Every value starts with a format
// byte so it can evolve; decoders refuse unknown formats, out-of-range
// fields and trailing bytes with an error wrapping ErrCorrupt.
//
// Index record (the value; the path is the key and is not repeated):
//
//	byte   format (1)
//	byte   kind (wire.KindFile or wire.KindDir)
//	uvarint mode (permission bits, <= 0777)
//	i64    mtime (Unix nanoseconds)
//	files only: uvarint size, 32 bytes SHA-256
//	uvarint n, then n bytes: the host set as a bitmask over the session's
//	       host table; bit i (byte i/8, bit i%8) is host i. Trailing zero
//	       bytes are trimmed, so n is 1 for up to 8 hosts and 0 for none.
//
// Host table (per session, in "indexhosts"):
//
//	byte   format (1)
//	uvarint count (<= MaxIndexHosts)
//	count x (uvarint length, name bytes)
//
// The table is append-only: it starts as the session's configured hosts in
// their order, and a host first named in a record later (a host added to the
// session) is appended. Indices therefore never change meaning and no record
// is rewritten when hosts are added. A host removed from a session keeps its
// slot; records that name it still decode to its name. ClearIndex and
// ReplaceIndex start a fresh table.
//
// Cache entry (agent.db, the path is the key):
//
//	byte   format (1)
//	uvarint size
//	i64    mtime (Unix nanoseconds)
//	i64    ctime (Unix nanoseconds)
//	uvarint inode
//	32 bytes SHA-256
//
// # Scan cache: lookups and pruning
//
// A scan reads the cache through a CacheReader: one read transaction for
// all its lookups, ended only when something writes to agent.db (bbolt's
// remap on growth waits for every reader, see Agent). The reader keeps a
// 64-bit hash of every path it was asked about, 8 bytes a path; after a
// complete scan, CacheReader.Prune deletes the entries whose paths were
// neither looked up nor written since: files gone from disk. Nothing is
// rewritten for unchanged files, so a rescan of an unchanged tree writes
// nothing at all.
package store
