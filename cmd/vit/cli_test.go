package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"testing"

	"github.com/spf13/pflag"
)

// runCmd runs vit's command name with args, as the command line
// "vit name args..." does with an empty stdin, and returns its error.
func runCmd(name string, args []string, stdout, stderr io.Writer) error {
	_, err := execute(context.Background(), append([]string{name}, args...), strings.NewReader(""), stdout, stderr)
	return err
}

// runVit runs vit in process with stdin and returns the exit status,
// stdout and stderr.
func runVit(stdin io.Reader, args ...string) (int, string, string) {
	var out, errOut strings.Builder
	code := runWithInput(args, stdin, &out, &errOut)
	return code, out.String(), errOut.String()
}

// crashed reports output that holds a Go stack trace or runtime failure.
func crashed(out string) bool {
	return strings.Contains(out, "goroutine ") || strings.Contains(out, "panic:") || strings.Contains(out, "fatal error")
}

// freeText are the string flags whose values are names (files, folders,
// datasets, class labels) rather than numbers or choices: every other
// non-boolean flag must be a checkedValue.
var freeText = map[string]bool{"model": true, "data": true, "out": true, "resume": true, "from": true, "to": true,
	"cpuprofile": true, "run": true, "class": true, "text": true, "list": true}

// TestBadFlagValues runs every subcommand with each bad value that each of
// its numeric and enum flags refuses. The flags come from the cobra
// commands themselves, so a new numeric flag that is not checked fails
// here. Each run must exit 2 before loading anything, with one line naming
// the flag and the value, and no stack trace.
func TestBadFlagValues(t *testing.T) {
	n := 0
	for _, cmd := range newRoot(nil, io.Discard, io.Discard).Commands() {
		if cmd.Name() == "help" || cmd.Name() == "completion" {
			continue
		}
		cmd.Flags().VisitAll(func(f *pflag.Flag) {
			if f.Value.Type() == "bool" || f.Name == "help" {
				return
			}
			cv, ok := f.Value.(checkedValue)
			if !ok {
				if !freeText[f.Name] {
					t.Errorf("vit %s --%s: a %s flag that is not checked: register it with a checked value (flags.go)", cmd.Name(), f.Name, f.Value.Type())
				}
				return
			}
			for _, bad := range cv.bad() {
				n++
				code, _, errOut := runVit(strings.NewReader(""), cmd.Name(), "--"+f.Name+"="+bad)
				want := "vit " + cmd.Name() + ": --" + f.Name + " " + quoteIfNeeded(bad) + ": "
				if code != 2 || !strings.HasPrefix(errOut, want) || strings.Count(errOut, "\n") != 1 || crashed(errOut) {
					t.Errorf("vit %s --%s=%q: exit %d, stderr %q; want exit 2 and one line starting %q", cmd.Name(), f.Name, bad, code, errOut, want)
				}
			}
		})
	}
	if n < 100 {
		t.Fatalf("only %d bad values tried", n)
	}
}

// TestBadValuesNamed checks the messages of the cases the issue names.
func TestBadValuesNamed(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"train", "--epochs", "-1"}, []string{"--epochs -1: must be a positive integer"}},
		{[]string{"train", "--model", "Z/16"}, []string{"--model Z/16: unknown model preset", "Ti, S, B, L, H"}},
		{[]string{"info", "--model", "Z/16"}, []string{"unknown model preset"}},
		{[]string{"train", "--lr", "NaN"}, []string{"--lr NaN: must be a positive number"}},
		{[]string{"train", "--dropout", "NaN"}, []string{"--dropout NaN: must be a number in [0, 1)"}},
		{[]string{"fewshot", "--l2", "NaN"}, []string{"--l2 NaN: must be a positive number"}},
		{[]string{"bench", "--seconds", "Inf"}, []string{"--seconds Inf"}},
		{[]string{"eval", "--batch", "0"}, []string{"vit eval: --batch 0: must be a positive integer"}},
		{[]string{"predict", "--top", "-1", "x.png"}, []string{"--top -1"}},
		{[]string{"info", "--batch", "-1"}, []string{"--batch -1"}},
		{[]string{"info", "--dropout", "0.1"}, []string{"unknown flag: --dropout"}},
		{[]string{"nonsense"}, []string{`unknown command "nonsense"`}},
		{[]string{"info", "--features", "8"}, []string{"--features 8: random features are for --attention performer"}},
		{[]string{"train", "--redraw-every", "8", "--data", "embedded"}, []string{"--redraw-every 8: feature redraws are for --attention performer"}},
		{[]string{"eval", "--model", "m", "--features", "8"}, []string{"--features 8: random features are for --attention performer"}},
		{[]string{"info", "--dim", "10", "--heads", "3"}, []string{"model flags: dim 10 is not divisible by heads 3"}},
		{[]string{"info", "--channels", "2"}, []string{"--channels 2: must be 1 or 3"}},
	} {
		code, _, errOut := runVit(strings.NewReader(""), tc.args...)
		if code != 2 || crashed(errOut) {
			t.Errorf("%q: exit %d, stderr %q; want exit 2", tc.args, code, errOut)
		}
		for _, w := range tc.want {
			if !strings.Contains(errOut, w) {
				t.Errorf("%q: stderr %q lacks %q", tc.args, errOut, w)
			}
		}
	}
}

// TestFlagsAnywhere: flags after the positional arguments count, "--" ends
// the flags, and "-" reads an image from stdin.
func TestFlagsAnywhere(t *testing.T) {
	model := saveTiny(t)
	img := "../../imageio/testdata/in/chelsea.png"
	code, out, errOut := runVit(nil, "predict", img, "--model", model, "--top", "1")
	if code != 0 || !strings.HasPrefix(out, img+": ") || strings.Count(out, "%") != 1 {
		t.Fatalf("predict IMAGE --model M --top 1: exit %d, %q %q", code, out, errOut)
	}
	code, _, errOut = runVit(nil, "predict", "--model", model, "--", "--top")
	if code != 1 || !strings.Contains(errOut, "--top") || !strings.Contains(errOut, "1 of 1 images could not be read") {
		t.Errorf("predict -- --top: exit %d, %q; want --top read as an image file", code, errOut)
	}

	pixels, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	code, out, errOut = runVit(bytes.NewReader(pixels), "predict", "-", "--model", model, "--top", "1", img)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 2 || !strings.HasPrefix(lines[0], "-: ") || lines[0][1:] != lines[1][len(img):] {
		t.Fatalf("predict - IMAGE: exit %d, %q %q; want the same prediction for stdin and the file", code, out, errOut)
	}
	if code, _, errOut := runVit(strings.NewReader(""), "predict", "--model", model, "-"); code != 1 || !strings.Contains(errOut, "stdin is empty") {
		t.Errorf("predict - with empty stdin: exit %d, %q", code, errOut)
	}
	if code, _, errOut := runVit(bytes.NewReader(pixels), "predict", "--model", model, "-", "-"); code != 2 || !strings.Contains(errOut, "named twice") {
		t.Errorf("predict - -: exit %d, %q", code, errOut)
	}

	dir := t.TempDir()
	code, out, errOut = runVit(bytes.NewReader(pixels), "attention", "--model", tinyModel(t, 3), "-", "--out", dir)
	if code != 0 || !strings.HasPrefix(out, "-\t") || !strings.Contains(out, filepath.Join(dir, "stdin-rollout-")) {
		t.Fatalf("attention --model M - --out DIR: exit %d, %q %q", code, out, errOut)
	}
	feats := filepath.Join(dir, "f.jsonl")
	if code, _, errOut := runVit(bytes.NewReader(pixels), "embed", "-", "--out", feats, "--model", model); code != 0 {
		t.Fatalf("embed - --out F --model M: exit %d, %q", code, errOut)
	}
	if b, err := os.ReadFile(feats); err != nil || !strings.Contains(string(b), `"file":"-"`) {
		t.Fatalf("embed output %q, %v", b, err)
	}
}

// TestHelpVersionCompletion checks the help of every command, --version
// and the completion scripts.
func TestHelpVersionCompletion(t *testing.T) {
	for _, cmd := range newRoot(nil, io.Discard, io.Discard).Commands() {
		code, out, errOut := runVit(nil, cmd.Name(), "--help")
		if code != 0 || !strings.HasPrefix(out, "Usage: vit "+cmd.Name()) || errOut != "" {
			t.Errorf("vit %s --help: exit %d, %q %q", cmd.Name(), code, out, errOut)
		}
		if strings.Contains(out, "(default -") {
			t.Errorf("vit %s --help shows a placeholder default:\n%s", cmd.Name(), out)
		}
	}
	_, info, _ := runVit(nil, "info", "--help")
	_, train, _ := runVit(nil, "train", "--help")
	for _, f := range []string{"--dropout", "--attention-dropout", "--drop-path", "--redraw-every"} {
		if strings.Contains(info, f) || !strings.Contains(train, f) {
			t.Errorf("%s: in vit info --help %v (want false), in vit train --help %v (want true)", f, strings.Contains(info, f), strings.Contains(train, f))
		}
	}
	if !strings.Contains(train, "Model flags:") || !strings.Contains(train, "Training-only model flags:") {
		t.Errorf("vit train --help does not group its flags:\n%s", train)
	}
	code, out, _ := runVit(nil, "help")
	if code != 0 || !strings.Contains(out, "predict    classify images") || !strings.Contains(out, "completion") {
		t.Errorf("vit help: exit %d\n%s", code, out)
	}
	if code, _, errOut := runVit(nil); code != 2 || !strings.Contains(errOut, "Commands:") {
		t.Errorf("vit: exit %d, %q; want the usage and exit 2", code, errOut)
	}
	code, out, _ = runVit(nil, "--version")
	if code != 0 || !strings.HasPrefix(out, "vit ") || !(strings.Contains(out, "(devel)") || strings.Contains(out, " v")) {
		t.Errorf("vit --version: exit %d, %q", code, out)
	}
	for shell, want := range map[string]string{"bash": "bash completion", "zsh": "compdef", "fish": "complete -c vit", "powershell": "Register-ArgumentCompleter"} {
		code, out, errOut := runVit(nil, "completion", shell)
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("vit completion %s: exit %d, %d bytes, %q", shell, code, len(out), errOut)
		}
	}
}

var (
	buildOnce sync.Once
	binary    string
	buildErr  error
)

// vitBinary builds vit once for the tests that run it as a program.
func vitBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the vit binary")
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "vit-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binary = filepath.Join(dir, "vit")
		out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput()
		if err != nil {
			buildErr = err
			binary = string(out)
		}
	})
	if buildErr != nil {
		t.Fatalf("go build: %v\n%s", buildErr, binary)
	}
	return binary
}

// TestBinary runs a few command lines through the built program.
func TestBinary(t *testing.T) {
	bin := vitBinary(t)
	model := saveTiny(t)
	img, _ := filepath.Abs("../../imageio/testdata/in/chelsea.png")
	for _, tc := range []struct {
		args  []string
		stdin string
		code  int
		want  string
	}{
		{[]string{"info", "--batch", "0"}, "", 2, "vit info: --batch 0: must be a positive integer\n"},
		{[]string{"train", "--lr", "NaN"}, "", 2, "vit train: --lr NaN: must be a positive number\n"},
		{[]string{"eval", "--model", model, "--tta", "both"}, "", 2, "vit eval: --tta both: must be none or flip\n"},
		{[]string{"predict", img, "--model", model, "--top", "2"}, "", 0, img + ": "},
		{[]string{"predict", "--model", model, "-"}, img, 0, "-: "},
		{[]string{"--version"}, "", 0, "vit "},
	} {
		cmd := exec.Command(bin, tc.args...)
		if tc.stdin != "" {
			f, err := os.Open(tc.stdin)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			cmd.Stdin = f
		}
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		cmd.Run()
		got := out.String()
		if tc.code != 0 {
			got = errOut.String()
		}
		if code := cmd.ProcessState.ExitCode(); code != tc.code || !strings.HasPrefix(got, tc.want) || crashed(errOut.String()) {
			t.Errorf("vit %q: exit %d, stdout %q, stderr %q; want exit %d and %q", tc.args, code, out.String(), errOut.String(), tc.code, tc.want)
		}
	}
}

// TestFitWarnings: a colour photo into a grey model and a large image into
// a small model are warned about on stderr, by file, saying why; an image
// that fits gets no warning. (TestPredictMisfitSummary covers many images.)
func TestFitWarnings(t *testing.T) {
	grey := tinyModel(t, 1) // 16×16
	dir := t.TempDir()
	small, big := filepath.Join(dir, "small.png"), filepath.Join(dir, "big.png")
	writeImage(t, small, 16, 16)
	writeImage(t, big, 80, 70)
	const warning = "vit: warning: image does not fit the model; its prediction may be meaningless (file="
	code, _, errOut := runVit(nil, "predict", "--model", grey, small, big)
	if code != 0 || strings.Count(errOut, warning) != 2 ||
		!strings.Contains(errOut, warning+small) || !strings.Contains(errOut, "colour image given to a model of grey images") ||
		!strings.Contains(errOut, warning+big) || !strings.Contains(errOut, "a 80x70 image shrunk to the model's 16x16 input") {
		t.Errorf("predict: exit %d, stderr %q; want a warning for each image, saying why", code, errOut)
	}
	code, _, errOut = runVit(nil, "predict", "--model", tinyModel(t, 3), small)
	if code != 0 || strings.Contains(errOut, "warning") {
		t.Errorf("an RGB 16×16 image into an RGB 16×16 model: exit %d, stderr %q; want no warning", code, errOut)
	}
	code, _, errOut = runVit(nil, "attention", "--model", grey, "--out", dir, big)
	if code != 0 || strings.Count(errOut, warning+big) != 1 {
		t.Errorf("attention: exit %d, stderr %q; want one warning about %s", code, errOut, big)
	}
}

func TestFormatVersion(t *testing.T) {
	info := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.2.0"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "7649268e6a2f"}, {Key: "vcs.modified", Value: "true"}}}
	if got, want := formatVersion(info, true), "v1.2.0 commit 7649268e6a2f, modified (go1.26.8)"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	info = &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}}
	if got, want := formatVersion(info, true), "(devel) (go1.26.8)"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got := formatVersion(nil, false); !strings.Contains(got, "unknown") {
		t.Errorf("no build info: %q", got)
	}
}
