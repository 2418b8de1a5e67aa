package client

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/peerlink/peerlink/conflict"
	"github.com/peerlink/peerlink/web/api"
)

func sessionCommand() *cli.Command {
	return &cli.Command{
		Name:  "session",
		Usage: "define, start, stop and watch file collaboration sessions",
		Subcommands: []*cli.Command{
			{
				Name: "create", Usage: "define a session", ArgsUsage: "NAME",
				Flags:  clientFlags(optionFlags(true)...),
				Action: createSession,
			},
			{
				Name: "set", Usage: "change a stopped session: the flags of create, only those given change", ArgsUsage: "NAME",
				Flags:  clientFlags(optionFlags(false)...),
				Action: onSession(setSession),
			},
			{
				Name: "start", Usage: "start a session: scan, merge, resolve, transfer, then run", ArgsUsage: "NAME",
				Flags: clientFlags(&cli.BoolFlag{Name: "wait", Usage: "return when the initial synchronisation is done; exit 1 if it fails"},
					&cli.DurationFlag{Name: "wait-for-hosts", Usage: "with --wait, how long to wait for hosts that are not connected before exiting 1 (the session itself waits for them)"}),
				Action: onSession(startSession),
			},
			{
				Name: "stop", Usage: "stop a session", ArgsUsage: "NAME", Flags: clientFlags(),
				Action: onSession(func(c *cli.Context, cl *api.Client, name string) error {
					if _, err := cl.Stop(c.Context, name); err != nil {
						return err
					}
					fmt.Fprintf(c.App.Writer, "session %s stopped\n", name)
					return nil
				}),
			},
			{
				Name: "delete", Usage: "delete a stopped session and its index (files are not touched)", ArgsUsage: "NAME", Flags: clientFlags(),
				Action: onSession(func(c *cli.Context, cl *api.Client, name string) error {
					if err := cl.DeleteSession(c.Context, name); err != nil {
						return err
					}
					fmt.Fprintf(c.App.Writer, "session %s deleted\n", name)
					return nil
				}),
			},
			{
				Name: "list", Usage: "list sessions", Flags: clientFlags(jsonFlag),
				Action: listSessions,
			},
			{
				Name: "status", Usage: "show a session's phase, hosts and progress", ArgsUsage: "NAME", Flags: clientFlags(jsonFlag),
				Action: onSession(sessionStatus),
			},
			{
				Name: "deletions", Usage: "approve or discard a host's deletions held by the mass-delete breaker (see session status)", ArgsUsage: "NAME",
				Flags: clientFlags(&cli.BoolFlag{Name: "approve", Usage: "delete them on every host"},
					&cli.BoolFlag{Name: "discard", Usage: "bring the files back to the host that lost them"},
					&cli.StringFlag{Name: "host", Usage: "the host whose deletions are held (needed where several hosts' are)"}),
				Action: onSession(sessionDeletions),
			},
			{
				Name: "reset-root", Usage: "take a host's root, refused as not the folder the session synchronised (a replaced or moved disk), as a new host's: merged as at a first start, nothing deleted elsewhere", ArgsUsage: "NAME",
				Flags:  clientFlags(&cli.StringFlag{Name: "host", Usage: "the host whose root to take as new", Required: true}),
				Action: onSession(sessionResetRoot),
			},
		},
	}
}

// createSession creates a session from the flags of create.
func createSession(c *cli.Context) error {
	name, err := oneArg(c, "session name")
	if err != nil {
		return err
	}
	cfg, err := sessionConfig(c, name, nil)
	if err != nil {
		return err
	}
	cl, err := client(c)
	if err != nil {
		return err
	}
	s, err := cl.CreateSession(c.Context, cfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "session %s created with %d hosts; start it with: %s session start %s --wait\n", s.Name, len(s.Hosts), self(), s.Name)
	return nil
}

// setSession changes the flags given of a stopped session.
func setSession(c *cli.Context, cl *api.Client, name string) error {
	cur, err := cl.Session(c.Context, name)
	if err != nil {
		return err
	}
	cfg, err := sessionConfig(c, name, &cur.SessionConfig)
	if err != nil {
		return err
	}
	s, err := cl.UpdateSession(c.Context, cfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "session %s changed\n", s.Name)
	printSession(c.App.Writer, s)
	return nil
}

// startSession starts a session and, with --wait, follows it to the end of its initial synchronisation.
func startSession(c *cli.Context, cl *api.Client, name string) error {
	if _, err := cl.Start(c.Context, name); err != nil {
		return err
	}
	if !c.Bool("wait") {
		fmt.Fprintf(c.App.Writer, "session %s starting; follow it with: %s session status %s\n", name, self(), name)
		return nil
	}
	return waitSynced(c, cl, name)
}

// listSessions lists the sessions with their phase and progress.
func listSessions(c *cli.Context) error {
	cl, err := client(c)
	if err != nil {
		return err
	}
	list, err := cl.Sessions(c.Context)
	if err != nil {
		return err
	}
	if c.Bool("json") {
		return printJSON(c.App.Writer, list)
	}
	tw := tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tPHASE\tHOSTS\tFILES\tBYTES")
	for _, s := range list {
		hosts := make([]string, len(s.Hosts))
		for i, h := range s.Hosts {
			hosts[i] = h.Host
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d/%d\t%s/%s\n", s.Name, s.Status.Phase, strings.Join(hosts, ","),
			s.Status.Files.Done, s.Status.Files.Total, size(s.Status.Bytes.Done), size(s.Status.Bytes.Total))
	}
	return tw.Flush()
}

// sessionStatus prints one session.
func sessionStatus(c *cli.Context, cl *api.Client, name string) error {
	s, err := cl.Session(c.Context, name)
	if err != nil {
		return err
	}
	if c.Bool("json") {
		return printJSON(c.App.Writer, s)
	}
	printSession(c.App.Writer, s)
	return nil
}

func optionFlags(create bool) []cli.Flag {
	// set changes only what is given: its flags have no defaults to show.
	resolver := &cli.StringFlag{Name: "resolver", Usage: "conflict resolution at start: last-modified or manual"}
	protectDays := &cli.IntFlag{Name: "protect-days", Usage: "days protected copies are kept"}
	lockGrace := &cli.DurationFlag{Name: "lock-grace", Usage: "how long the other hosts' copies of a file stay locked after the host of its writer disconnects (0s: released at once)"}
	deltaMin := &cli.StringFlag{Name: "delta-min", Usage: "the smallest file delta applies to, e.g. 1MiB or 256KiB"}
	hostUsage := "change HOST's root folder, or add HOST to the session, HOST=ROOT (repeatable)"
	if create {
		resolver.Value, protectDays.Value, lockGrace.Value = "last-modified", 30, api.DefaultLockGrace
		deltaMin.Value = "1MiB"
		hostUsage = "a participant and its root folder, HOST=ROOT (repeat for each host)"
	}
	flags := []cli.Flag{
		&cli.StringSliceFlag{Name: "host", Usage: hostUsage},
		resolver,
		&cli.BoolFlag{Name: "truncate-ms", Usage: "compare modification times without their milliseconds"},
		&cli.BoolFlag{Name: "quarantine-offline-conflicts", Usage: "quarantine a file changed on two or more hosts while the session was stopped"},
		&cli.BoolFlag{Name: "delete-quarantined", Usage: "deleting a quarantined file removes its quarantine"},
		&cli.BoolFlag{Name: "offline-rename-detection", Usage: "a folder renamed on one host while stopped is renamed on every host"},
		&cli.BoolFlag{Name: "offline-delete-detection", Usage: "a path deleted on one host while stopped is deleted on every host"},
		&cli.StringFlag{Name: "delete-master", Usage: "with offline delete detection, only deletions made on this host propagate"},
		&cli.BoolFlag{Name: "target-protection", Value: create, Usage: "keep every copy peerlink replaces or deletes in ROOT/.peerlink/protected (--target-protection=false to turn off)"},
		protectDays,
		lockGrace,
		&cli.BoolFlag{Name: "delta", Value: create, Usage: "send a host that holds an older copy of a file only what differs (--delta=false to send files whole)"},
		deltaMin,
		&cli.IntFlag{Name: "delete-guard-percent", Usage: "hold one host's deletions (at a scan or in a burst) of more than this share of the session's files, and at least --delete-guard-min files, until approved (`session deletions`); 100 turns the guard off (default 50)"},
		&cli.IntFlag{Name: "delete-guard-min", Usage: "the fewest files a held mass delete counts (default 1000)"},
		&cli.StringSliceFlag{Name: "exclude", Usage: "a glob of paths not to synchronise, on top of the default filter (repeatable; on set, the whole list)"},
	}
	if !create {
		for _, f := range flags {
			switch f := f.(type) {
			case *cli.BoolFlag:
				f.DefaultText = "unchanged"
			case *cli.IntFlag:
				f.DefaultText = "unchanged"
			case *cli.DurationFlag:
				f.DefaultText = "unchanged"
			case *cli.StringFlag:
				f.DefaultText = "unchanged"
			}
		}
		flags = append(flags, &cli.StringSliceFlag{Name: "remove-host", Usage: "take HOST out of the session (repeatable); its files are not touched"})
	}
	return flags
}

// sessionConfig builds a definition from the flags; with base, only the
// flags given on the command line change it (session set).
func sessionConfig(c *cli.Context, name string, base *api.SessionConfig) (api.SessionConfig, error) {
	var cfg api.SessionConfig
	if base != nil {
		cfg = *base
	}
	cfg.Name = name
	set := func(flag string) bool { return base == nil || c.IsSet(flag) }
	if set("exclude") {
		cfg.Exclude = c.StringSlice("exclude")
	}
	o := &cfg.Options
	if set("resolver") {
		o.Resolver = conflict.Resolver(c.String("resolver"))
	}
	for flag, field := range map[string]*bool{
		"truncate-ms":                  &o.TruncateMs,
		"quarantine-offline-conflicts": &o.QuarantineOfflineConflicts,
		"delete-quarantined":           &o.DeleteQuarantined,
		"offline-rename-detection":     &o.OfflineRenameDetection,
		"offline-delete-detection":     &o.OfflineDeleteDetection,
	} {
		if set(flag) {
			*field = c.Bool(flag)
		}
	}
	if set("delete-master") {
		o.DeleteMaster = c.String("delete-master")
	}
	if set("target-protection") {
		on := c.Bool("target-protection")
		cfg.TargetProtection = &on
	}
	if set("protect-days") {
		cfg.ProtectDays = c.Int("protect-days")
		if cfg.ProtectDays < 1 || cfg.ProtectDays > api.MaxProtectDays {
			return cfg, fmt.Errorf("--protect-days %d: give a number of days from 1 to %d", cfg.ProtectDays, api.MaxProtectDays)
		}
	}
	if set("lock-grace") {
		g := c.Duration("lock-grace")
		if g < 0 || g > api.MaxLockGrace {
			return cfg, fmt.Errorf("--lock-grace %s: give a duration from 0s to %s, e.g. 5m", g, api.Duration(api.MaxLockGrace))
		}
		d := api.Duration(g)
		cfg.LockGrace = &d
	}
	if err := setDelta(c, &cfg, set); err != nil {
		return cfg, err
	}
	if set("delete-guard-percent") {
		cfg.DeleteGuardPercent = c.Int("delete-guard-percent")
	}
	if set("delete-guard-min") {
		cfg.DeleteGuardMin = c.Int("delete-guard-min")
	}
	if err := setHosts(c, &cfg, base == nil); err != nil {
		return cfg, err
	}
	// The hub checks the same; checking here first answers without it.
	return cfg, cfg.Check()
}

// setDelta reads --delta and --delta-min into cfg where set says they count.
func setDelta(c *cli.Context, cfg *api.SessionConfig, set func(string) bool) error {
	if set("delta") {
		on := c.Bool("delta")
		cfg.Delta = &on
	}
	if set("delta-min") {
		n, err := parseSize(c.String("delta-min"))
		if err != nil {
			return fmt.Errorf("--delta-min: %w", err)
		}
		if n < 1 || n > api.MaxDeltaMin {
			return fmt.Errorf("--delta-min %s: give a size from 1 byte to 1TiB, e.g. 1MiB", c.String("delta-min"))
		}
		cfg.DeltaMin = n
	}
	return nil
}

func printSession(w io.Writer, s api.Session) {
	st := s.Status
	fmt.Fprintf(w, "session %s: %s", s.Name, st.Phase)
	if st.Reason != "" {
		fmt.Fprintf(w, " (%s)", st.Reason)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "  options: %s\n", optionSummary(s.SessionConfig))
	fmt.Fprintf(w, "  files %d/%d, bytes %s/%s, errors %d, quarantined %d\n", st.Files.Done, st.Files.Total,
		size(st.Bytes.Done), size(st.Bytes.Total), st.ErrorCount, st.Quarantined)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  HOST\tCONNECTED\tSTATE\tROOT\tENTRIES\tERROR")
	for _, h := range st.Hosts {
		entries := h.Files // what its scan found, until the start ends
		if st.Phase == api.PhaseRunning {
			entries = h.Held
		}
		fmt.Fprintf(tw, "  %s\t%v\t%s\t%s\t%d\t%s\n", h.Host, h.Connected, hostState(h), h.Root, entries, h.Error)
	}
	tw.Flush()
	printClocks(w, st.Hosts)
	for _, e := range st.Errors {
		fmt.Fprintf(w, "  error: %s\n", e.Error())
	}
	for _, warn := range st.Warnings {
		fmt.Fprintf(w, "  warning: %s\n", warn)
	}
	for _, d := range st.HeldDeletions {
		fmt.Fprintf(w, "  held deletions: %s deleted %d paths (%d files, %s) since %s: deleted nowhere else until `peerlink session deletions %s --host %s --approve` or `--discard`\n",
			d.Host, d.Paths, d.Files, d.Reason, d.Since.Local().Format(time.DateTime), s.Name, d.Host)
	}
}

// sessionDeletions approves or discards held deletions.
func sessionDeletions(c *cli.Context, cl *api.Client, name string) error {
	req := api.DeletionsRequest{Host: c.String("host")}
	switch {
	case c.Bool("approve") == c.Bool("discard"):
		return fmt.Errorf("give one of --approve (delete them on every host) or --discard (bring the files back)")
	case c.Bool("approve"):
		req.Action = api.DeletionsApprove
	default:
		req.Action = api.DeletionsDiscard
	}
	res, err := cl.Deletions(c.Context, name, req)
	if err != nil {
		return err
	}
	if res.Action == api.DeletionsApprove {
		fmt.Fprintf(c.App.Writer, "session %s: %s's %d held deletions approved: deleted on every host\n", name, res.Host, res.Paths)
	} else {
		fmt.Fprintf(c.App.Writer, "session %s: %s's %d held deletions discarded: the files are brought back to it\n", name, res.Host, res.Paths)
	}
	return nil
}

// sessionResetRoot takes a host's root as a new host's.
func sessionResetRoot(c *cli.Context, cl *api.Client, name string) error {
	host := c.String("host")
	if _, err := cl.ResetRoot(c.Context, name, api.ResetRootRequest{Host: host}); err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "session %s: %s's root is taken as a new host's: it is merged as at a first start (nothing deleted elsewhere) at its next attach\n", name, host)
	return nil
}

// printClocks prints each host's clock against the hub's, on one line:
// "clocks vs hub: site-a +12µs (±40µs), site-b +5.001s (±35µs)".
func printClocks(w io.Writer, hosts []api.HostStatus) {
	var parts []string
	for _, h := range hosts {
		if h.Clock != nil {
			parts = append(parts, fmt.Sprintf("%s %s (±%s)", h.Host, clockOffset(h.Clock), clockError(h.Clock)))
		}
	}
	if len(parts) > 0 {
		fmt.Fprintf(w, "  clocks vs hub: %s\n", strings.Join(parts, ", "))
	}
}

// hostState is h's state, with since when it is away and what it has to
// catch up.
func hostState(h api.HostStatus) string {
	if h.AwaySince.IsZero() {
		return h.State
	}
	return fmt.Sprintf("%s since %s, %d path(s) to catch up", h.State, h.AwaySince.Local().Format(time.DateTime), h.CatchUp)
}

// optionSummary names a session's settings in the CLI's flag words.
func optionSummary(cfg api.SessionConfig) string {
	o := cfg.Options
	parts := []string{"resolver " + string(o.Resolver)}
	for _, f := range []struct {
		on   bool
		name string
	}{
		{o.TruncateMs, "truncate-ms"},
		{o.QuarantineOfflineConflicts, "quarantine-offline-conflicts"},
		{o.DeleteQuarantined, "delete-quarantined"},
		{o.OfflineRenameDetection, "offline-rename-detection"},
		{o.OfflineDeleteDetection, "offline-delete-detection"},
	} {
		if f.on {
			parts = append(parts, f.name)
		}
	}
	if o.DeleteMaster != "" {
		parts = append(parts, "delete-master "+o.DeleteMaster)
	}
	if cfg.TargetProtection == nil || *cfg.TargetProtection {
		parts = append(parts, fmt.Sprintf("target protection %d days", cfg.ProtectDays))
	} else {
		parts = append(parts, "target protection off")
	}
	if cfg.LockGrace != nil {
		parts = append(parts, "lock grace "+cfg.LockGrace.String())
	}
	switch {
	case cfg.Delta != nil && !*cfg.Delta:
		parts = append(parts, "delta off")
	case cfg.DeltaMin > 0:
		parts = append(parts, "delta from "+size(cfg.DeltaMin))
	}
	switch {
	case cfg.DeleteGuardPercent >= 100:
		parts = append(parts, "delete guard off")
	case cfg.DeleteGuardPercent > 0:
		parts = append(parts, fmt.Sprintf("delete guard %d%% and %d files", cfg.DeleteGuardPercent, cfg.DeleteGuardMin))
	}
	if len(cfg.Exclude) > 0 {
		parts = append(parts, "exclude "+strings.Join(cfg.Exclude, " "))
	}
	return strings.Join(parts, ", ")
}

// setHosts applies --host (and, on set, --remove-host) to cfg: on create
// --host lists the hosts; on set it changes a host's root or adds the
// host, and --remove-host takes one out.
func setHosts(c *cli.Context, cfg *api.SessionConfig, create bool) error {
	if create {
		cfg.Hosts = nil
	}
	for _, hr := range c.StringSlice("host") {
		host, root, ok := strings.Cut(hr, "=")
		if !ok || host == "" || root == "" {
			return fmt.Errorf("--host %q: write HOST=ROOT, e.g. --host site-a=/srv/projects", hr)
		}
		i := slices.IndexFunc(cfg.Hosts, func(h api.HostRoot) bool { return h.Host == host })
		if i >= 0 && !create {
			cfg.Hosts[i].Root = root
			continue
		}
		cfg.Hosts = append(cfg.Hosts, api.HostRoot{Host: host, Root: root})
	}
	if create {
		return nil
	}
	for _, host := range c.StringSlice("remove-host") {
		i := slices.IndexFunc(cfg.Hosts, func(h api.HostRoot) bool { return h.Host == host })
		if i < 0 {
			return fmt.Errorf("--remove-host %s: not a host of session %s", host, cfg.Name)
		}
		cfg.Hosts = slices.Delete(cfg.Hosts, i, i+1)
	}
	return nil
}
