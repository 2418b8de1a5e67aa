package client

import (
	"strings"

	"github.com/urfave/cli/v2"
)

// FlagsFirst moves a command's flags before its positional arguments.
// urfave/cli v2 stops parsing flags at the first positional argument, so
// `session create NAME --host A=/x` would silently lose --host; the
// documented forms put the name first, so the arguments are reordered
// before parsing. Everything after "--" stays as it is.
func FlagsFirst(app *cli.App, args []string) []string {
	if len(args) < 2 {
		return args
	}
	out, i, flags, ok := walkCommands(app, args)
	if !ok {
		return args
	}
	var positional, global []string
	for i < len(args) {
		a := args[i]
		if a == "--" {
			positional = append(positional, args[i:]...)
			break
		}
		if strings.HasPrefix(a, "-") && a != "-" && i == len(args)-1 && takesValue(flags, a) && !strings.Contains(a, "=") {
			// A flag missing its value must not take the name before it
			// as its value: alone at the end, the parser says the flag
			// needs an argument (the positionals do not matter then).
			return append(out, a)
		}
		if strings.HasPrefix(a, "-") && a != "-" && !known(flags, a) && known(app.Flags, a) {
			// A global flag (--log-level) given after the command: it
			// goes before the command, where urfave/cli looks for it.
			global = append(global, a)
			i++
			if takesValue(app.Flags, a) && !strings.Contains(a, "=") && i < len(args) {
				global = append(global, args[i])
				i++
			}
			continue
		}
		if strings.HasPrefix(a, "-") && a != "-" {
			out = append(out, a)
			i++
			if takesValue(flags, a) && !strings.Contains(a, "=") && i < len(args) {
				out = append(out, args[i])
				i++
			}
			continue
		}
		positional = append(positional, a)
		i++
	}
	if len(global) > 0 {
		out = append(append([]string{out[0]}, global...), out[1:]...)
	}
	return append(out, positional...)
}

// known reports whether the flag token arg names one of flags.
func known(flags []cli.Flag, arg string) bool {
	name, _, _ := strings.Cut(strings.TrimLeft(arg, "-"), "=")
	for _, f := range flags {
		for _, n := range f.Names() {
			if n == name {
				return true
			}
		}
	}
	return false
}

func findCommand(cmds []*cli.Command, name string) *cli.Command {
	for _, c := range cmds {
		if c.HasName(name) {
			return c
		}
	}
	return nil
}

// takesValue reports whether the flag token arg names a flag that consumes
// the next argument as its value. Unknown flags are assumed not to, so the
// parser reports them itself.
func takesValue(flags []cli.Flag, arg string) bool {
	name := strings.TrimLeft(arg, "-")
	for _, f := range flags {
		for _, n := range f.Names() {
			if n != name {
				continue
			}
			if v, ok := f.(cli.DocGenerationFlag); ok {
				return v.TakesValue()
			}
			return true
		}
	}
	return false
}

// walkCommands walks args down the command names, keeping the flags of the
// levels above where they are and carrying down those a level does not
// know. It returns the arguments so far, where the leaf command's own
// arguments begin, and the leaf's flags; ok is false for an unknown
// command.
func walkCommands(app *cli.App, args []string) (out []string, i int, flags []cli.Flag, ok bool) {
	out = []string{args[0]}
	cmds := app.Commands
	flags = app.Flags
	i = 1
	// Walk down the command names, keeping flags of the levels above where
	// they are; a flag a level does not know (`peerlink --hub URL status`)
	// is carried down to the command that knows it.
	var carried []string
	for i < len(args) {
		a := args[i]
		if a == "--" {
			return append(out, args[i:]...), len(args), flags, true
		}
		if strings.HasPrefix(a, "-") && a != "-" {
			flag := []string{a}
			i++
			if takesValue(flags, a) && !strings.Contains(a, "=") && i < len(args) {
				flag = append(flag, args[i])
				i++
			} else if !known(flags, a) && !strings.Contains(a, "=") && i < len(args) && !strings.HasPrefix(args[i], "-") && findCommand(cmds, args[i]) == nil {
				// Not this level's: its value, if any, is the next word
				// unless that is a command.
				flag = append(flag, args[i])
				i++
			}
			if known(flags, a) {
				out = append(out, flag...)
			} else {
				carried = append(carried, flag...)
			}
			continue
		}
		cmd := findCommand(cmds, a)
		if cmd == nil {
			// An unknown command: left as it is, the parser names it
			// rather than complain about a flag moved before it.
			return nil, 0, nil, false
		}
		out = append(out, a)
		i++
		cmds, flags = cmd.Subcommands, cmd.Flags
		if len(cmds) == 0 {
			break
		}
	}
	// The carried flags go first among the leaf's; one the leaf does not
	// know either is left for the parser to name.
	out = append(out, carried...)
	return out, i, flags, true
}
