package roles

import (
	"io"
	"slices"
	"testing"

	"github.com/urfave/cli/v2"
)

// A repeatable flag's value is taken whole, commas and all: a root such
// as "/srv/Projects, 2026" is one folder, not two.
func TestRepeatableFlagKeepsCommas(t *testing.T) {
	var got []string
	app := App("test", &cli.Command{Name: "x", Flags: []cli.Flag{&cli.StringSliceFlag{Name: "host"}},
		Action: func(c *cli.Context) error { got = c.StringSlice("host"); return nil }})
	app.Writer, app.ErrWriter = io.Discard, io.Discard
	if err := app.Run([]string{"peerlink", "x", "--host", "site-a=/srv/Projects, 2026", "--host", "site-b=/data"}); err != nil {
		t.Fatal(err)
	}
	if want := []string{"site-a=/srv/Projects, 2026", "site-b=/data"}; !slices.Equal(got, want) {
		t.Fatalf("--host values %q, want %q", got, want)
	}
}
