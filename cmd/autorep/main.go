// Command autorep trains CNNs, reduces their ReLUs with AutoReP or SNL and
// runs them as two-party secure inference. Each subcommand is a thin layer
// over the library packages; see `autorep help`.
package main

import (
	"errors"
	"flag"
	"fmt"
	"maps"
	"os"
	"slices"
)

// command is one subcommand. run receives the arguments after its name and
// returns an error to print; flag.ErrHelp means usage was already shown.
type command struct {
	name    string
	summary string
	run     func(args []string) error
}

var commands = map[string]*command{}

// register adds a subcommand; called from init functions of the command files.
func register(name, summary string, run func(args []string) error) {
	commands[name] = &command{name: name, summary: summary, run: run}
}

func usage() {
	fmt.Fprintf(os.Stderr, "autorep: private inference with automatic ReLU reduction\n\nUsage: autorep COMMAND [flags]\n\nCommands:\n")
	listCommands(commands, func(c *command) string { return c.summary })
	fmt.Fprintf(os.Stderr, "\nRun 'autorep COMMAND --help' (or 'autorep help COMMAND') for a command's flags.\n")
}

// listCommands prints each command's name and summary on stderr, in
// name order (the command list of usage and of a command group's usage).
func listCommands[C any](cmds map[string]C, summary func(C) string) {
	for _, n := range slices.Sorted(maps.Keys(cmds)) {
		fmt.Fprintf(os.Stderr, "  %-8s %s\n", n, summary(cmds[n]))
	}
}

func main() {
	if len(os.Args) > 2 && os.Args[1] == "help" { // autorep help COMMAND
		os.Args = []string{os.Args[0], os.Args[2], "--help"}
	}
	if len(os.Args) < 2 || os.Args[1] == "help" || os.Args[1] == "-h" || os.Args[1] == "--help" {
		usage()
		if len(os.Args) < 2 {
			os.Exit(2)
		}
		return
	}
	c, ok := commands[os.Args[1]]
	if !ok {
		fmt.Fprintf(os.Stderr, "autorep: unknown command %q\n\n", os.Args[1])
		usage()
		os.Exit(2)
	}
	if err := c.run(os.Args[2:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintf(os.Stderr, "autorep %s: %v\n", c.name, err)
		os.Exit(1)
	}
}

// newFlags returns a FlagSet for a subcommand whose --help prints a usage
// line, the summary and the flags.
func newFlags(name, args, summary string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: autorep %s %s\n\n%s\n\nFlags:\n", name, args, summary)
		fs.PrintDefaults()
	}
	return fs
}

// augmentFlag reads an --augment value: "auto" (nil: the dataset's
// default, on for colour images), "on" or "off".
func augmentFlag(v string) (*bool, error) {
	switch v {
	case "auto":
		return nil, nil
	case "on", "off":
		on := v == "on"
		return &on, nil
	}
	return nil, fmt.Errorf("--augment %q: want auto, on or off", v)
}
