package main

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
)

// Kind is what one step of a schedule does.
type Kind string

// File work, done on one host's root by the harness as a user would.
const (
	Write    Kind = "write"    // write a file in place (O_TRUNC), creating folders as needed
	Save     Kind = "save"     // save a file as editors do: temp file, then rename over it
	Truncate Kind = "truncate" // truncate a file to Size bytes
	Delete   Kind = "delete"   // delete a file or a folder with all it holds
	Mkdir    Kind = "mkdir"    // make a folder (and its parents)
	Rename   Kind = "rename"   // rename or move a file or a folder to To
	Chmod    Kind = "chmod"    // change a file's permission bits to Mode
	Open     Kind = "open"     // open a file for writing and hold it open (handle Handle)
	Close    Kind = "close"    // write to held handle Handle, then close it
	Office   Kind = "office"   // hold an Office lock file ~$NAME beside a document (handle Handle)
	Unoffice Kind = "unoffice" // save the document by temp file and rename, then remove its ~$NAME
)

// Faults and the harness's own pacing.
const (
	KillAgent    Kind = "kill-agent"    // kill -9 the host's agent
	StartAgent   Kind = "start-agent"   // start it again
	KillHub      Kind = "kill-hub"      // kill -9 the hub
	StartHub     Kind = "start-hub"     // start it again on the same ports and data
	CutLink      Kind = "cut-link"      // take the host's link to the broker down
	RestoreLink  Kind = "restore-link"  // bring it back
	StopSession  Kind = "stop-session"  // peerlink session stop
	StartSession Kind = "start-session" // peerlink session start
	EmptyRoot    Kind = "empty-root"    // remove everything under a host's root (its agent is down)
	Pause        Kind = "pause"         // let the processes work for Millis
)

// Step is one line of a schedule.
type Step struct {
	Kind   Kind
	Host   string // the host worked on or faulted; "" for the hub and the session
	Path   string // slash-separated, relative to the root
	To     string // Rename's destination
	Size   int    // bytes to write (Write, Save, Close, Unoffice) or to keep (Truncate)
	Mode   uint32 // Chmod
	Handle int    // Open/Close, Office/Unoffice
	Millis int    // Pause
}

func (s Step) String() string {
	var b strings.Builder
	b.WriteString(string(s.Kind))
	if s.Host != "" {
		fmt.Fprintf(&b, " %s", s.Host)
	}
	if s.Path != "" {
		fmt.Fprintf(&b, " %s", s.Path)
	}
	switch s.Kind {
	case Rename:
		fmt.Fprintf(&b, " -> %s", s.To)
	case Write, Save, Close, Unoffice:
		fmt.Fprintf(&b, " %dB", s.Size)
	case Truncate:
		fmt.Fprintf(&b, " to %dB", s.Size)
	case Chmod:
		fmt.Fprintf(&b, " %04o", s.Mode)
	case Pause:
		fmt.Fprintf(&b, " %dms", s.Millis)
	}
	if s.Kind == Open || s.Kind == Close || s.Kind == Office || s.Kind == Unoffice {
		fmt.Fprintf(&b, " #%d", s.Handle)
	}
	return b.String()
}

// Plan is what a schedule is made of.
type Plan struct {
	Seed  uint64
	Hosts []string
	Steps []Step
	// Random is how many of the steps are random, after the first few
	// that make files: Generate's steps argument.
	Random int
}

// The names the file work draws from: few, so that steps on different
// hosts meet on the same paths.
var (
	folders   = []string{"", "a", "b", "a/c"}
	fileNames = []string{"f1.txt", "f2.txt", "f3.bin", "notes.md"}
	docNames  = []string{"report.docx", "plan.xlsx"}
	modes     = []uint32{0o644, 0o600, 0o664, 0o755}
)

// Hosts names n hosts.
func Hosts(n int) []string {
	h := make([]string, n)
	for i := range h {
		h[i] = fmt.Sprintf("site-%c", 'a'+i)
	}
	return h
}

// faults is what a schedule has broken and not yet healed, so that the
// generator only emits steps that make sense (restart what is down).
type faults struct {
	agentDown map[string]bool
	linkCut   map[string]bool
	hubDown   bool
	stopped   bool
	// open holds the host and path of each held handle.
	open map[int]Step
	// written are the paths of the writes so far.
	written []string
}

// Generate returns the schedule of seed: five steps that make a few files,
// then steps random steps on the hosts; a pure function of its arguments.
func Generate(seed uint64, steps int, hosts []string) Plan {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	f := faults{agentDown: map[string]bool{}, linkCut: map[string]bool{}, open: map[int]Step{}}
	p := Plan{Seed: seed, Hosts: hosts, Random: steps}
	handle := 0
	// A few files first, so that the steps after find something to work on.
	for range 4 {
		p.Steps = append(p.Steps, Step{Kind: Write, Host: hosts[r.IntN(len(hosts))], Path: randFile(r), Size: size(r)})
	}
	p.Steps = append(p.Steps, Step{Kind: Pause, Millis: 1000})
	for len(p.Steps) < steps+5 {
		var s Step
		switch x := r.IntN(100); {
		case x < 70:
			s = fileStep(r, hosts, &f, &handle)
		case x < 88:
			s = faultStep(r, hosts, &f)
		default:
			s = Step{Kind: Pause, Millis: 100 + r.IntN(1500)}
		}
		if s.Kind == "" {
			continue
		}
		if s.Kind == Write || s.Kind == Save {
			f.written = append(f.written, s.Path)
		}
		p.Steps = append(p.Steps, s)
	}
	return p
}

func randFile(r *rand.Rand) string {
	return join(folders[r.IntN(len(folders))], fileNames[r.IntN(len(fileNames))])
}

func join(dir, name string) string {
	if dir == "" {
		return name
	}
	return dir + "/" + name
}

// size is a file size: mostly small, sometimes past the 1 MiB where delta
// starts.
func size(r *rand.Rand) int {
	if r.IntN(10) == 0 {
		return 1<<20 + r.IntN(1<<20)
	}
	return r.IntN(64 << 10)
}

func fileStep(r *rand.Rand, hosts []string, f *faults, handle *int) Step {
	h := hosts[r.IntN(len(hosts))]
	if s, ok := lockedWrite(r, hosts, f); ok {
		return s
	}
	switch x := r.IntN(100); {
	case x < 25:
		return Step{Kind: Write, Host: h, Path: randFile(r), Size: size(r)}
	case x < 35:
		return Step{Kind: Save, Host: h, Path: randFile(r), Size: size(r)}
	case x < 42:
		return Step{Kind: Truncate, Host: h, Path: randFile(r), Size: r.IntN(4096)}
	case x < 52:
		p := randFile(r)
		if r.IntN(3) == 0 {
			p = folders[1+r.IntN(len(folders)-1)]
		}
		return Step{Kind: Delete, Host: h, Path: p}
	case x < 57:
		return Step{Kind: Mkdir, Host: h, Path: join(folders[1+r.IntN(len(folders)-1)], fmt.Sprintf("d%d", r.IntN(3)))}
	case x < 70:
		if r.IntN(3) == 0 { // a folder renamed or moved
			from := folders[1+r.IntN(len(folders)-1)]
			to := []string{"a", "b", "e", "b/moved", "a/c2"}[r.IntN(5)]
			return Step{Kind: Rename, Host: h, Path: from, To: to}
		}
		return Step{Kind: Rename, Host: h, Path: randFile(r), To: randFile(r)}
	case x < 76:
		return Step{Kind: Chmod, Host: h, Path: randFile(r), Mode: modes[r.IntN(len(modes))]}
	case x < 88:
		return holdStep(r, h, f, handle)
	default:
		return closeStep(r, f)
	}
}

// holdStep opens a file for writing, or an Office lock file, and keeps it
// until a later close step (or the heal) ends it.
func holdStep(r *rand.Rand, h string, f *faults, handle *int) Step {
	if len(f.open) >= 3 {
		return closeStep(r, f)
	}
	*handle++
	p := randFile(r)
	if len(f.written) > 0 && r.IntN(3) > 0 {
		// A file that exists somewhere: its other copies get locked.
		p = f.written[r.IntN(len(f.written))]
	}
	s := Step{Kind: Open, Host: h, Path: p, Handle: *handle}
	if r.IntN(3) == 0 {
		s = Step{Kind: Office, Host: h, Path: join(folders[r.IntN(len(folders))], docNames[r.IntN(len(docNames))]), Handle: *handle}
	}
	f.open[s.Handle] = s
	return s
}

// closeStep ends the oldest held handle.
func closeStep(r *rand.Rand, f *faults) Step {
	oldest := 0
	for h := range f.open {
		if oldest == 0 || h < oldest {
			oldest = h
		}
	}
	if oldest == 0 {
		return Step{}
	}
	o := f.open[oldest]
	delete(f.open, oldest)
	if o.Kind == Office {
		return Step{Kind: Unoffice, Host: o.Host, Path: o.Path, Handle: oldest, Size: size(r)}
	}
	return Step{Kind: Close, Host: o.Host, Path: o.Path, Handle: oldest, Size: r.IntN(8192)}
}

func faultStep(r *rand.Rand, hosts []string, f *faults) Step {
	h := hosts[r.IntN(len(hosts))]
	switch x := r.IntN(100); {
	case x < 30:
		if f.agentDown[h] {
			if r.IntN(3) == 0 {
				return Step{Kind: EmptyRoot, Host: h}
			}
			f.agentDown[h] = false
			return Step{Kind: StartAgent, Host: h}
		}
		f.agentDown[h] = true
		return Step{Kind: KillAgent, Host: h}
	case x < 60:
		f.linkCut[h] = !f.linkCut[h]
		if f.linkCut[h] {
			return Step{Kind: CutLink, Host: h}
		}
		return Step{Kind: RestoreLink, Host: h}
	case x < 75:
		f.hubDown = !f.hubDown
		if f.hubDown {
			return Step{Kind: KillHub}
		}
		return Step{Kind: StartHub}
	default:
		if f.hubDown {
			return Step{}
		}
		f.stopped = !f.stopped
		if f.stopped {
			return Step{Kind: StopSession}
		}
		return Step{Kind: StartSession}
	}
}

// lockedWrite now and then writes, truncates or deletes a file held open
// on one host from another host, where the copy should be locked.
func lockedWrite(r *rand.Rand, hosts []string, f *faults) (Step, bool) {
	if len(f.open) == 0 || r.IntN(4) != 0 {
		return Step{}, false
	}
	var held []Step
	for _, h := range sortedHandles(f.open) {
		if o := f.open[h]; o.Kind == Open {
			held = append(held, o)
		}
	}
	if len(held) == 0 {
		return Step{}, false
	}
	o := held[r.IntN(len(held))]
	h := hosts[r.IntN(len(hosts))]
	if h == o.Host {
		return Step{}, false
	}
	switch r.IntN(3) {
	case 0:
		return Step{Kind: Truncate, Host: h, Path: o.Path, Size: r.IntN(100)}, true
	case 1:
		return Step{Kind: Delete, Host: h, Path: o.Path}, true
	}
	return Step{Kind: Write, Host: h, Path: o.Path, Size: size(r)}, true
}

func sortedHandles(m map[int]Step) []int {
	hs := make([]int, 0, len(m))
	for h := range m {
		hs = append(hs, h)
	}
	sort.Ints(hs)
	return hs
}
