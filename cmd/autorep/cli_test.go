package main

// End-to-end tests of the autorep binary: each test runs the command the
// way a user does (a subprocess of a binary built once from this package)
// and checks exit codes, messages and --json output. Tests that need a
// dataset read $AUTOREP_DATA and skip when it is unset or lacks the set.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/autorep/autorep/modelfile"
	"github.com/autorep/autorep/models"
	"github.com/autorep/autorep/reduce"
)

var (
	binOnce sync.Once
	binDir  string // temporary directory holding the built binary
	binPath string
	binErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// autorepBin builds the autorep binary from this package once (on first
// use, so benchmark-only runs do not pay for it) and returns its path.
func autorepBin(t testing.TB) string {
	t.Helper()
	binOnce.Do(func() {
		binDir, binErr = os.MkdirTemp("", "autorep-cli-test")
		if binErr != nil {
			return
		}
		goTool, err := exec.LookPath("go")
		if err != nil {
			goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
		}
		binPath = filepath.Join(binDir, "autorep")
		out, err := exec.Command(goTool, "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatalf("building autorep: %v", binErr)
	}
	return binPath
}

// cliResult is the outcome of one autorep run.
type cliResult struct {
	args           []string
	stdout, stderr string
	code           int
}

func (r cliResult) String() string {
	return fmt.Sprintf("autorep %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(r.args, " "), r.code, r.stdout, r.stderr)
}

// crashRE matches what a Go panic, runtime fatal error or signal prints.
var crashRE = regexp.MustCompile(`(?m)^(panic: |fatal error: |goroutine \d+ \[|runtime: |SIGSEGV|\[signal )`)

// runCLI runs autorep with args (and a time limit) and fails the test if it
// crashed (panic, runtime error, stack trace) or did not finish.
func runCLI(t *testing.T, timeout time.Duration, args ...string) cliResult {
	t.Helper()
	return runCLIEnv(t, timeout, nil, args...)
}

// runCLIEnv is runCLI with extra environment variables ("KEY=value").
func runCLIEnv(t *testing.T, timeout time.Duration, env []string, args ...string) cliResult {
	t.Helper()
	bin := autorepBin(t) // built first: the timeout is the command's, not the build's
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := cliResult{args: args, stdout: stdout.String(), stderr: stderr.String()}
	if ctx.Err() != nil {
		t.Fatalf("autorep %s did not finish within %v\n%s", strings.Join(args, " "), timeout, r)
	}
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("autorep %s: %v", strings.Join(args, " "), err)
		}
		r.code = ee.ExitCode()
	}
	if crashRE.MatchString(r.stderr) || r.code < 0 {
		t.Fatalf("autorep crashed\n%s", r)
	}
	return r
}

// short is the time limit of commands that should answer at once.
const short = 30 * time.Second

// wantOK fails unless r exited 0.
func wantOK(t *testing.T, r cliResult) {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("want exit 0\n%s", r)
	}
}

// wantFail fails unless r exited with code and its stderr contains every
// one of msgs.
func wantFail(t *testing.T, r cliResult, code int, msgs ...string) {
	t.Helper()
	if r.code != code {
		t.Errorf("want exit %d\n%s", code, r)
		return
	}
	for _, m := range msgs {
		if !strings.Contains(r.stderr, m) {
			t.Errorf("stderr lacks %q\n%s", m, r)
		}
	}
}

// decodeJSON parses r's stdout as exactly one JSON object into v.
func decodeJSON(t *testing.T, r cliResult, v any) {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	if err := dec.Decode(v); err != nil {
		t.Fatalf("stdout is not a JSON object: %v\n%s", err, r)
	}
	var extra json.RawMessage
	if err := dec.Decode(&extra); err == nil {
		t.Fatalf("stdout holds more than one JSON value\n%s", r)
	}
}

// modelPath returns a committed model file, failing if it is absent.
func modelPath(t *testing.T, name string) string {
	t.Helper()
	p := filepath.Join("..", "..", "models", name)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("committed model file: %v", err)
	}
	return p
}

// needData returns $AUTOREP_DATA, skipping the test when it is unset or
// has no directory or archive for the dataset (its name in the data dir).
func needData(t *testing.T, entry string) string {
	t.Helper()
	dir := os.Getenv("AUTOREP_DATA")
	if dir == "" {
		t.Skipf("AUTOREP_DATA not set: skipping (needs %s)", entry)
	}
	if _, err := os.Stat(filepath.Join(dir, entry)); err != nil {
		t.Skipf("AUTOREP_DATA=%s has no %s: skipping", dir, entry)
	}
	return dir
}

// commandNames returns the registered commands, sorted.
func commandNames() []string {
	var names []string
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// helpTargets are the argument prefixes whose --help shows a flag list:
// every command, with data and bench expanded to their subcommands.
func helpTargets() [][]string {
	var out [][]string
	for _, n := range commandNames() {
		switch n {
		case "data":
			for _, s := range []string{"fetch", "info", "list"} {
				out = append(out, []string{"data", s})
			}
		case "bench":
			var subs []string
			for s := range benchCommands {
				subs = append(subs, s)
			}
			sort.Strings(subs)
			for _, s := range subs {
				out = append(out, []string{"bench", s})
			}
		default:
			out = append(out, []string{n})
		}
	}
	return out
}

// contractFlags are the flags of the command-line contract (DESIGN §3.1)
// and of the docs that each command's --help must list.
var contractFlags = map[string][]string{
	"train":       {"model", "dataset", "data", "epochs", "out", "resume", "limit", "json"},
	"eval":        {"model", "dataset", "data", "n", "json"},
	"reduce":      {"model", "method", "budget", "epochs", "out", "resume", "json"},
	"relus":       {"model", "arch", "dataset", "json"},
	"plot":        {"out", "title", "json"},
	"dealer":      {"listen"},
	"serve":       {"model", "listen", "dealer"},
	"infer":       {"server", "dealer", "image", "dataset", "index", "json"},
	"demo":        {"data"},
	"data fetch":  {"data"},
	"data info":   {"data", "json"},
	"data list":   {"data", "json"},
	"bench train": {"model"},
	"bench pi":    {"model", "dataset", "n", "json"},
}

func TestTopLevelUsage(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}, {}} {
		r := runCLI(t, short, args...)
		want := 0
		if len(args) == 0 {
			want = 2 // no command is a usage error
		}
		if r.code != want {
			t.Errorf("want exit %d\n%s", want, r)
		}
		if !strings.Contains(r.stderr, "Usage: autorep COMMAND") {
			t.Errorf("no usage line\n%s", r)
		}
		for _, n := range commandNames() {
			if !regexp.MustCompile(`(?m)^  ` + regexp.QuoteMeta(n) + ` +\S`).MatchString(r.stderr) {
				t.Errorf("usage does not list command %q with its summary\n%s", n, r)
			}
		}
	}
}

func TestHelpCommand(t *testing.T) {
	r := runCLI(t, short, "help", "relus")
	wantOK(t, r)
	if !strings.Contains(r.stderr, "Usage: autorep relus ") || !strings.Contains(r.stderr, "  -arch") {
		t.Errorf("help relus\n%s", r)
	}
	wantOK(t, runCLI(t, short, "help", "data"))
	wantFail(t, runCLI(t, short, "help", "frob"), 2, `unknown command "frob"`)
}

func TestContractCommandsRegistered(t *testing.T) {
	for _, n := range []string{"train", "eval", "reduce", "relus", "dealer", "serve", "infer", "bench", "demo", "plot", "data"} {
		if _, ok := commands[n]; !ok {
			t.Errorf("command %q (DESIGN §3.1 / docs/CLI.md) is not registered", n)
		}
	}
	for _, n := range []string{"train", "pi"} {
		if _, ok := benchCommands[n]; !ok {
			t.Errorf("bench subcommand %q is not registered", n)
		}
	}
}

func TestCommandHelp(t *testing.T) {
	for _, n := range []string{"data", "bench"} {
		if _, ok := commands[n]; !ok {
			continue
		}
		r := runCLI(t, short, n, "--help")
		wantOK(t, r)
		if !strings.Contains(r.stderr, "Usage: autorep "+n+" SUBCOMMAND") {
			t.Errorf("no usage line\n%s", r)
		}
	}
	for _, target := range helpTargets() {
		name := strings.Join(target, " ")
		r := runCLI(t, short, append(target, "--help")...)
		if r.code != 0 {
			t.Errorf("want exit 0\n%s", r)
			continue
		}
		if !strings.Contains(r.stderr, "Usage: autorep "+name+" ") {
			t.Errorf("%s --help: no usage line\n%s", name, r)
		}
		if !strings.Contains(r.stderr, "Flags:\n  -") {
			t.Errorf("%s --help: no flag list\n%s", name, r)
		}
		for _, f := range contractFlags[name] {
			if !regexp.MustCompile(`(?m)^  -` + regexp.QuoteMeta(f) + `\b`).MatchString(r.stderr) {
				t.Errorf("%s --help does not list --%s\n%s", name, f, r)
			}
		}
		if r.stdout != "" {
			t.Errorf("%s --help wrote to stdout (usage belongs on stderr)\n%s", name, r)
		}
	}
}

func TestUnknownCommandAndFlag(t *testing.T) {
	r := runCLI(t, short, "frobnicate")
	wantFail(t, r, 2, `unknown command "frobnicate"`, "Usage: autorep COMMAND")
	wantFail(t, runCLI(t, short, "data", "frob"), 1, `unknown subcommand "frob"`)
	wantFail(t, runCLI(t, short, "bench", "frob"), 1, `unknown bench subcommand "frob"`)
	wantFail(t, runCLI(t, short, "data"), 1, "missing subcommand")
	wantFail(t, runCLI(t, short, "bench"), 1, "missing subcommand")
	for _, target := range helpTargets() {
		args := append(append([]string(nil), target...), "--no-such-flag")
		if target[0] == "data" && target[1] != "list" {
			args = append(args, "mnist")
		}
		r := runCLI(t, short, args...)
		wantFail(t, r, 1, "flag provided but not defined: -no-such-flag", "autorep "+target[0]+":")
	}
	// Stray positional arguments are refused, not ignored.
	wantFail(t, runCLI(t, short, "relus", "--arch", "lenet", "--dataset", "mnist", "extra"), 1, "unexpected arguments")
	wantFail(t, runCLI(t, short, "eval", "--model", "x.safetensors", "extra"), 1, "unexpected arguments")
}

func TestReLUCountsByArch(t *testing.T) {
	for _, c := range []struct {
		arch, dataset string
		sites, total  int
		input         [3]int
	}{
		{"resnet20", "cifar10", 19, 188416, [3]int{3, 32, 32}},
		{"resnet18", "cifar10", 16, 491520, [3]int{3, 32, 32}},
		{"resnet18_relu", "cifar10", 17, 557056, [3]int{3, 32, 32}},
		{"wrn22_8", "cifar10", 18, 1359872, [3]int{3, 32, 32}},
		{"lenet", "mnist", 4, 6508, [3]int{1, 28, 28}},
		{"resnet20", "tiny-imagenet", 19, 4 * 188416, [3]int{3, 64, 64}},
		{"resnet18", "tiny-imagenet", 16, 4 * 491520, [3]int{3, 64, 64}},
		{"wrn22_8", "tiny-imagenet", 18, 4 * 1359872, [3]int{3, 64, 64}},
	} {
		r := runCLI(t, short, "relus", "--arch", c.arch, "--dataset", c.dataset, "--json")
		wantOK(t, r)
		var got struct {
			Arch    string             `json:"arch"`
			Input   [3]int             `json:"input"`
			Classes int                `json:"classes"`
			Sites   []models.SiteCount `json:"sites"`
			Total   int                `json:"total"`
			AllReLU int                `json:"all_relu"`
		}
		decodeJSON(t, r, &got)
		if got.Arch != c.arch || got.Input != c.input || got.Total != c.total || got.AllReLU != c.total || len(got.Sites) != c.sites {
			t.Errorf("relus --arch %s --dataset %s: arch %s input %v, %d sites, total %d (all %d); want %d sites, %d ReLUs",
				c.arch, c.dataset, got.Arch, got.Input, len(got.Sites), got.Total, got.AllReLU, c.sites, c.total)
		}
		sum := 0
		for _, s := range got.Sites {
			n := 1
			for _, d := range s.Shape {
				n *= d
			}
			if s.Kept != s.Total || s.Total != n {
				t.Errorf("%s site %s: kept %d total %d shape %v", c.arch, s.Name, s.Kept, s.Total, s.Shape)
			}
			sum += s.Kept
		}
		if sum != got.Total {
			t.Errorf("%s: sites sum to %d, total says %d", c.arch, sum, got.Total)
		}
	}
	// The human table goes to stderr and ends with the total.
	r := runCLI(t, short, "relus", "--arch", "resnet20", "--dataset", "cifar10")
	wantOK(t, r)
	if r.stdout != "" || !regexp.MustCompile(`total \(19 sites\) +188416 +188416`).MatchString(r.stderr) {
		t.Errorf("human output\n%s", r)
	}
	wantFail(t, runCLI(t, short, "relus", "--arch", "nonet", "--dataset", "cifar10"), 1, `unknown architecture "nonet"`)
	wantFail(t, runCLI(t, short, "relus", "--arch", "lenet"), 1, "--arch needs --dataset")
	wantFail(t, runCLI(t, short, "relus"), 1, "--model FILE or --arch NAME")
	wantFail(t, runCLI(t, short, "relus", "--arch", "lenet", "--dataset", "nodata"), 1, `unknown dataset "nodata"`)
}

// relusJSON is the output of `autorep relus --json`.
type relusJSON struct {
	Arch    string             `json:"arch"`
	Sites   []models.SiteCount `json:"sites"`
	Total   int                `json:"total"`
	AllReLU int                `json:"all_relu"`
}

func TestReLUsOfModelFiles(t *testing.T) {
	r := runCLI(t, short, "relus", "--model", modelPath(t, "lenet-mnist-autorep10.safetensors"), "--json")
	wantOK(t, r)
	var got relusJSON
	decodeJSON(t, r, &got)
	if got.Arch != "lenet" || got.AllReLU != 6508 || got.Total > 651 || got.Total <= 0 || len(got.Sites) != 4 {
		t.Errorf("lenet-mnist-autorep10: %+v; want ≤ 651 of 6508 ReLUs over 4 sites", got)
	}
	// Every committed model: the site counts add up, and a reduced model
	// keeps at most its budget and as many ReLUs as its record says.
	files, err := filepath.Glob(filepath.Join("..", "..", "models", "*.safetensors"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no committed model files: %v", err)
	}
	for _, f := range files {
		r := runCLI(t, short, "relus", "--model", f, "--json")
		wantOK(t, r)
		var got relusJSON
		decodeJSON(t, r, &got)
		sum := 0
		for _, s := range got.Sites {
			if s.Kept < 0 || s.Kept > s.Total {
				t.Errorf("%s site %s keeps %d of %d", f, s.Name, s.Kept, s.Total)
			}
			sum += s.Kept
		}
		if sum != got.Total || got.Total > got.AllReLU {
			t.Errorf("%s: sites sum to %d, total %d of %d", f, sum, got.Total, got.AllReLU)
		}
		mf, err := modelfile.Read(f)
		if err != nil {
			t.Fatal(err)
		}
		meta, err := mf.Meta()
		if err != nil {
			t.Fatal(err)
		}
		if len(meta.Reduce) == 0 {
			if got.Total != got.AllReLU {
				t.Errorf("%s has no reduction record but keeps %d of %d ReLUs", f, got.Total, got.AllReLU)
			}
			continue
		}
		var rec reduce.Record
		if err := json.Unmarshal(meta.Reduce, &rec); err != nil {
			t.Fatalf("%s: reduction record: %v", f, err)
		}
		if rec.ReLUs != got.Total || rec.Total != got.AllReLU || got.Total > rec.Budget {
			t.Errorf("%s: record says %s %d of %d ReLUs (budget %d); relus counts %d of %d",
				f, rec.Method, rec.ReLUs, rec.Total, rec.Budget, got.Total, got.AllReLU)
		}
	}
}

// plotPoints runs `autorep plot --json` on files and returns its points.
func plotPoints(t *testing.T, files ...string) []struct {
	Method   string  `json:"method"`
	ReLUs    int     `json:"relus"`
	Accuracy float64 `json:"accuracy"`
	Label    string  `json:"label"`
} {
	t.Helper()
	out := filepath.Join(t.TempDir(), "p.png")
	r := runCLI(t, short, append([]string{"plot", "--json", "--out", out}, files...)...)
	wantOK(t, r)
	var got struct {
		Out    string `json:"out"`
		Points []struct {
			Method   string  `json:"method"`
			ReLUs    int     `json:"relus"`
			Accuracy float64 `json:"accuracy"`
			Label    string  `json:"label"`
		} `json:"points"`
	}
	decodeJSON(t, r, &got)
	if got.Out != out {
		t.Errorf("plot JSON out = %q, want %q", got.Out, out)
	}
	return got.Points
}

// TestCLIDocCoversFlags checks that docs/CLI.md has a section for every
// command and lists every flag its --help shows.
func TestCLIDocCoversFlags(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "CLI.md"))
	if err != nil {
		t.Fatalf("docs/CLI.md: %v", err)
	}
	doc := string(b)
	flagRE := regexp.MustCompile(`(?m)^  -([a-z0-9-]+)`)
	for _, target := range helpTargets() {
		name := strings.Join(target, " ")
		head := regexp.MustCompile(`(?m)^#+ autorep ` + regexp.QuoteMeta(name) + `\n`).FindStringIndex(doc)
		if head == nil {
			t.Errorf("docs/CLI.md has no section \"autorep %s\"", name)
			continue
		}
		section := doc[head[1]:]
		if next := regexp.MustCompile(`(?m)^#+ `).FindStringIndex(section); next != nil {
			section = section[:next[0]]
		}
		r := runCLI(t, short, append(target, "--help")...)
		for _, m := range flagRE.FindAllStringSubmatch(r.stderr, -1) {
			if !regexp.MustCompile(`(?m)^  -` + regexp.QuoteMeta(m[1]) + `\b`).MatchString(section) {
				t.Errorf("docs/CLI.md section \"autorep %s\" lacks its flag -%s (copy `autorep %s --help` into it)", name, m[1], name)
			}
		}
		// A section's flag block, where it has one, is the --help text
		// itself, defaults included.
		block := regexp.MustCompile("(?s)Flags \\(`autorep " + regexp.QuoteMeta(name) + " --help`\\):\\s*```\n(.*?)```").FindStringSubmatch(section)
		if block == nil {
			continue
		}
		_, help, ok := strings.Cut(r.stderr, "Flags:\n")
		if !ok {
			t.Errorf("autorep %s --help prints no \"Flags:\"", name)
			continue
		}
		if strings.TrimRight(block[1], "\n") != strings.TrimRight(help, "\n") {
			t.Errorf("docs/CLI.md section \"autorep %s\": flag block differs from `autorep %s --help`; copy it again", name, name)
		}
	}
}
