package conflict

import "fmt"

// warnings collects what an administrator should read, grouping repeats of
// one kind of problem so that a million malformed entries make one line.
type warnings struct {
	keys []string
	msgs map[string]*warning
}

type warning struct {
	msg string // the first occurrence
	n   int
}

// add records msg under key; only the first message of a key is kept, the
// rest are counted.
func (w *warnings) add(key, msg string) {
	if w.msgs == nil {
		w.msgs = make(map[string]*warning)
	}
	if x, ok := w.msgs[key]; ok {
		x.n++
		return
	}
	w.msgs[key] = &warning{msg: msg, n: 1}
	w.keys = append(w.keys, key)
}

// list returns the warnings in the order their keys first appeared.
func (w *warnings) list() []string {
	var out []string
	for _, k := range w.keys {
		x := w.msgs[k]
		if x.n > 1 {
			out = append(out, fmt.Sprintf("%s (and %d more like it)", x.msg, x.n-1))
		} else {
			out = append(out, x.msg)
		}
	}
	return out
}

// addN records msg under key as n occurrences.
func (w *warnings) addN(key, msg string, n int) {
	w.add(key, msg)
	w.msgs[key].n += n - 1
}
