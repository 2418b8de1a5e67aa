//go:build linux

package main

import (
	"strings"
	"testing"
	"time"
)

func TestMergeResultsKeepsWhatThisRunDidNotMeasure(t *testing.T) {
	const syncOld = "# peerlink benchmark\n\nMeasured on day 1; every number below comes from that one run.\n\n| old table |\n"
	const liveOld = liveHeading + "\nold live\n"
	const syncNew = "# peerlink benchmark\n\n| new table |\n"
	const liveNew = liveHeading + "\nnew live\n"
	tests := []struct {
		name, old, sync, live string
		want                  []string // in this order
		not                   []string
	}{
		{"live alone into a file without a live section", syncOld, "", liveNew,
			[]string{"every number of the table below", "| old table |", liveNew}, nil},
		{"live alone replaces the live section", syncOld + "\n" + liveOld, "", liveNew,
			[]string{"| old table |", liveNew}, []string{"old live"}},
		{"initial sync alone keeps the live section", syncOld + "\n" + liveOld, syncNew, "",
			[]string{"| new table |", liveOld}, []string{"old table"}},
		{"everything replaces everything", syncOld + "\n" + liveOld, syncNew, liveNew,
			[]string{"| new table |", liveNew}, []string{"old table", "old live"}},
		{"live alone into no file", "", "", liveNew,
			[]string{"# peerlink benchmark", liveNew}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := mergeResults(tt.old, tt.sync, tt.live, "", "")
			at := 0
			for _, w := range tt.want {
				i := strings.Index(got[at:], w)
				if i < 0 {
					t.Fatalf("result lacks %q after offset %d:\n%s", w, at, got)
				}
				at += i + len(w)
			}
			for _, n := range tt.not {
				if strings.Contains(got, n) {
					t.Errorf("result still holds %q:\n%s", n, got)
				}
			}
			if strings.Count(got, liveHeading) > 1 {
				t.Errorf("two live sections:\n%s", got)
			}
		})
	}
}

func TestQuantilesAreNearestRank(t *testing.T) {
	var d []time.Duration
	for i := 200; i >= 1; i-- { // unsorted on purpose
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	q := quantiles(d)
	if q.p50 != 100*time.Millisecond || q.p90 != 180*time.Millisecond || q.p99 != 198*time.Millisecond || q.max != 200*time.Millisecond {
		t.Errorf("quantiles of 1..200 ms: %+v", q)
	}
	if q := quantiles([]time.Duration{7}); q.p50 != 7 || q.p99 != 7 || q.max != 7 {
		t.Errorf("quantiles of one sample: %+v", q)
	}
	if q := quantiles(nil); q != (quants{}) {
		t.Errorf("quantiles of none: %+v", q)
	}
}

func TestMergeResultsReplacesOnlyTheSectionsThisRunMeasured(t *testing.T) {
	const sync = "# peerlink benchmark\n\nMeasured on day 1; every number below comes from that one run.\n\n| table |\n"
	const live = liveHeading + "\nold live\n"
	const wan = wanHeading + "\nold wan\n"
	const scale = scaleHeading + "\nold scale\n"
	tests := []struct {
		name, old, sync, live, wan, scale string
		want                              []string // in this order
		not                               []string
	}{
		{"wan alone into a file without a wan section", sync + "\n" + live, "", "", wanHeading + "\nnew wan\n", "",
			[]string{"| table |", "old live", "new wan"}, nil},
		{"wan alone replaces the wan section", sync + "\n" + live + "\n" + wan, "", "", wanHeading + "\nnew wan\n", "",
			[]string{"| table |", "old live", "new wan"}, []string{"old wan"}},
		{"live alone keeps the wan section after it", sync + "\n" + live + "\n" + wan, "", liveHeading + "\nnew live\n", "", "",
			[]string{"| table |", "new live", "old wan"}, []string{"old live"}},
		{"a wan section before the live one is kept", sync + "\n" + wan + "\n" + live, "", liveHeading + "\nnew live\n", "", "",
			[]string{"| table |", "new live", "old wan"}, []string{"old live"}},
		{"the table alone keeps both sections", sync + "\n" + live + "\n" + wan, "# peerlink benchmark\n\n| new table |\n", "", "", "",
			[]string{"| new table |", "old live", "old wan"}, []string{"| table |"}},
		{"scale alone replaces the scale section", sync + "\n" + live + "\n" + wan + "\n" + scale, "", "", "", scaleHeading + "\nnew scale\n",
			[]string{"| table |", "old live", "old wan", "new scale"}, []string{"old scale"}},
		{"wan alone keeps the scale section after it", sync + "\n" + live + "\n" + wan + "\n" + scale, "", "", wanHeading + "\nnew wan\n", "",
			[]string{"| table |", "old live", "new wan", "old scale"}, []string{"old wan"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := mergeResults(tt.old, tt.sync, tt.live, tt.wan, tt.scale)
			at := 0
			for _, w := range tt.want {
				i := strings.Index(got[at:], w)
				if i < 0 {
					t.Fatalf("result lacks %q after offset %d:\n%s", w, at, got)
				}
				at += i + len(w)
			}
			for _, n := range tt.not {
				if strings.Contains(got, n) {
					t.Errorf("result still holds %q:\n%s", n, got)
				}
			}
			if strings.Count(got, wanHeading) > 1 || strings.Count(got, liveHeading) > 1 || strings.Count(got, scaleHeading) > 1 {
				t.Errorf("a section twice:\n%s", got)
			}
		})
	}
}
