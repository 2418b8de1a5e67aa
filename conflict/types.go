package conflict

import "github.com/peerlink/peerlink/wire"

// Resolver names a conflict resolution type of the seed's Step 4.
type Resolver string

const (
	// LastModified is "Last Modified Time Wins": the later modification time
	// designates the winning copy.
	LastModified Resolver = "last-modified"
	// Manual is "None (Manual Resolution)": every conflict found at start
	// becomes a quarantine in the File Conflict List.
	Manual Resolver = "manual"
)

// Options are a session's conflict resolution settings, named as in the
// seed's configuration page.
type Options struct {
	Resolver Resolver `json:"resolver"`
	// TruncateMs compares modification times with the milliseconds dropped.
	TruncateMs bool `json:"truncate_ms,omitempty"`
	// QuarantineOfflineConflicts quarantines a file changed on two or more
	// hosts while the session was not running, whatever the resolver.
	QuarantineOfflineConflicts bool `json:"quarantine_offline_conflicts,omitempty"`
	// DeleteQuarantined removes a quarantine when its file is deleted.
	DeleteQuarantined bool `json:"delete_quarantined,omitempty"`
	// OfflineRenameDetection renames on every host a folder that was renamed
	// or moved on one host while the session was stopped.
	OfflineRenameDetection bool `json:"offline_rename_detection,omitempty"`
	// OfflineDeleteDetection deletes on every host what was deleted on one
	// host while the session was stopped; without it the path is brought back.
	OfflineDeleteDetection bool `json:"offline_delete_detection,omitempty"`
	// DeleteMaster, with OfflineDeleteDetection, restricts propagated offline
	// deletions to those made on this host.
	DeleteMaster string `json:"delete_master,omitempty"`
}

// Record is the last synchronised state of one path: the entry every host
// agreed on and the hosts that held it.
type Record struct {
	Entry wire.Entry `json:"entry"`
	Hosts []string   `json:"hosts"`
}

// Input is everything the engine decides from.
type Input struct {
	// Hosts are the session's participants in their configured order; the
	// order is the last tie-break between equal candidates.
	Hosts []string
	// Scans holds every host's scan, in any order. A host in Hosts with no
	// scan here (nor in Streams) is treated as empty.
	Scans map[string][]wire.Entry
	// Streams holds the scans of hosts kept outside the engine (see
	// Stream), for hosts with no scan in Scans. The plan is the one the
	// same entries in Scans would give.
	Streams map[string]Stream
	// Last is the index of the last synchronised state, by path; empty on a
	// session's first start.
	Last map[string]Record
	// Sorted is the last index as records in tree order (ComparePaths),
	// each under its Entry.Path, in place of Last when Last is empty: the
	// engine points into it instead of copying it, and never modifies it.
	Sorted []Record
	// Compact asks for the plan's index as Plan.Table instead of
	// Plan.Index (see Index).
	Compact bool
	// Quarantined are paths already in the File Conflict List: they are left
	// alone until an operator resolves them.
	Quarantined map[string]bool
	// Held are paths left alone themselves only: each gets no op and no
	// index record, but what is below a held folder is decided as usual.
	// They are the hub's to settle otherwise (a copy a live host lags on,
	// which its repair brings up to date), and, like a quarantine, they
	// keep an offline rename from being detected through them.
	Held    map[string]bool
	Options Options
	// Clocks are the hosts' clocks as the hub measured them, by host. A
	// host not listed counts as exact; without any (or all zero) the plan
	// is what it would be without clocks. See ReasonClockSkew.
	Clocks map[string]Clock
	// Writing are, by host, the files its scan found open for writing
	// (wire.ScanPart.Open). Such a file is never replaced or removed on
	// that host: see ReasonOpen.
	Writing map[string][]string
}

// Reason says why a path was quarantined, in the seed's categories.
type Reason string

const (
	// ReasonManual: copies differ and the resolver is Manual.
	ReasonManual Reason = "manual-resolution"
	// ReasonOfflineEdit: modified on two or more hosts while stopped.
	ReasonOfflineEdit Reason = "offline-version-conflict"
	// ReasonKindMismatch: a file on one host, a folder on another.
	ReasonKindMismatch Reason = "file-folder-mismatch"
	// ReasonNameClash: names that differ only in case or Unicode form.
	ReasonNameClash Reason = "name-clash"
	// ReasonDeleteEdit: deleted on one host, edited on another while stopped.
	ReasonDeleteEdit Reason = "delete-edit-conflict"
	// ReasonClockSkew: changed on two hosts to different contents at
	// modification times closer than their clocks can be told apart, so
	// "Last Modified Time Wins" cannot name the later change.
	ReasonClockSkew Reason = "clock-skew"
	// ReasonOpen: open for writing on a host where the plan would replace
	// or remove that host's copy (another host's copy wins, or it is
	// deleted elsewhere), or open for writing on two or more hosts at
	// once, when the session starts or a host returns. The seed counts
	// both as conflicts: replaced, the writer's later writes would go to
	// a file no longer in the tree and be lost. The hub also sets it when
	// a target refuses an op because the file is open there
	// (wire.KindOpen).
	ReasonOpen Reason = "open-for-writing"
	// ReasonConcurrentEdit: modified on two hosts at once while the session
	// ran (both opened it for writing, or a target could not be locked).
	// SettleClose sets it; Resolve never does.
	ReasonConcurrentEdit Reason = "concurrent-edit"
)

// Copy is one host's copy of a quarantined path; Entry.Kind is 0 where the
// host has none.
type Copy struct {
	Host  string     `json:"host"`
	Entry wire.Entry `json:"entry"`
}

// Quarantine is a path the engine will not settle: it goes to the File
// Conflict List and is left alone until an operator picks a winner.
type Quarantine struct {
	Path   string `json:"path"`
	Reason Reason `json:"reason"`
	Detail string `json:"detail,omitempty"`
	Copies []Copy `json:"copies"`
}

// Plan is what must happen for every host to hold the same tree.
type Plan struct {
	// Ops are, per host, the operations that host must apply, ordered so that
	// applying them in sequence is safe: renames first, then mkdirs parents
	// first, then fetches and metas, then deletions children first (a folder
	// is deleted by one op on the folder). Hosts with nothing to do are
	// absent. For an OpRename, Have is the folder at OldPath and Want the
	// folder as it arrives at Path; a Path that exists refuses the rename.
	Ops map[string][]wire.Op
	// Index is the state every non-quarantined path ends in once the plan is
	// applied, with Hosts listing the hosts that already hold it now; the hub
	// adds a host to a record as each of its ops completes. A completed
	// OpRename moves a whole folder: the hub adds that host to the records of
	// the op's Path and of every path below it that the host's later ops do
	// not touch (those hold the moved copies, already right). Deleted paths
	// have no record. Each record's Hosts has its own storage: appending to
	// it never changes another record.
	Index map[string]Record
	// Table is Index in compact form when Input.Compact asked for it (and
	// Index is then nil): the same records, in tree order, at a few
	// dozen bytes each. Lookup and Records read either form.
	Table *Index
	// Quarantines are the paths this plan adds to the File Conflict List, in
	// tree order. Paths already in Input.Quarantined are not repeated: the
	// hub keeps its own list.
	Quarantines []Quarantine
	// Released are paths of Input.Quarantined that no host holds any more,
	// listed only with Options.DeleteQuarantined (the seed's "Enable
	// Deletion of Quarantined Files"): the hub removes their quarantines.
	Released []string
	// Warnings are things an administrator should know that did not stop the
	// plan (for example names that differ only in case).
	Warnings []string
	// Files and Bytes count the content transfers in Ops.
	Files, Bytes int64
}
