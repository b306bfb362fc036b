package main

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
)

// childArgs, in the environment, makes the test binary run vit with these
// arguments (separated by \x1f) under childLimit of address space, instead
// of the tests: a command that tries to allocate more dies in the child,
// not in the test runner.
const (
	childArgs  = "VIT_TEST_CHILD_ARGS"
	childLimit = 3 << 30
)

// runChild, called from TestMain, runs vit under childLimit of address
// space instead of the tests when the environment names a child's
// arguments; otherwise it returns.
func runChild() {
	args, ok := os.LookupEnv(childArgs)
	if !ok {
		return
	}
	lim := syscall.Rlimit{Cur: childLimit, Max: childLimit}
	if err := syscall.Setrlimit(syscall.RLIMIT_AS, &lim); err != nil {
		os.Stderr.WriteString("setrlimit: " + err.Error() + "\n")
		os.Exit(3)
	}
	os.Exit(run(strings.Split(args, "\x1f"), os.Stdout, os.Stderr))
}

// runLimited runs vit with args in a child process limited to childLimit
// bytes of address space.
func runLimited(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childArgs+"="+strings.Join(args, "\x1f"))
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		if _, ok := err.(*exec.ExitError); !ok {
			t.Fatal(err)
		}
	}
	return cmd.ProcessState.ExitCode(), out.String(), errOut.String()
}

// TestHugeModelsUnderMemoryLimit runs the command lines that used to take
// all the machine's memory, each in a child limited to 3 GiB of address
// space: a regression dies there out of memory (and fails here) instead of
// taking the machine down. Each must end with a clear line, no stack trace.
func TestHugeModelsUnderMemoryLimit(t *testing.T) {
	for _, tc := range []struct {
		args          []string
		code          int
		stdout, stder string
	}{
		{[]string{"info", "--batch", "1000000000"}, 1, "activations       ", "does not fit: inference at batch 1000000000 needs"},
		{[]string{"info", "--image", "100000", "--patch", "1"}, 2, "", "cannot fit in this machine's"},
		// H/1 is described (info allocates nothing), then refused: its
		// 2.6 GiB of weights need 7.8 GiB with gradients and packed copies.
		{[]string{"info", "--model", "H/1"}, 1, "parameters        695194600", "use a smaller model"},
		{[]string{"info", "--model", "S/16", "--batch", "32"}, 0, "parameters        22", "vit info: training does not fit"},
		{[]string{"bench", "--model", "H/1", "--train", "--batch", "1"}, 1, "", "training at batch 1 needs"},
		{[]string{"train", "--data", "embedded", "--model", "B/1", "--steps", "1"}, 1, "", "training at batch 128 needs"},
	} {
		code, out, errOut := runLimited(t, tc.args...)
		if code != tc.code || !strings.Contains(out, tc.stdout) || !strings.Contains(errOut, tc.stder) || crashed(out+errOut) {
			t.Errorf("vit %q under a 3 GiB limit: exit %d, stdout %q, stderr %q; want exit %d, %q and %q",
				tc.args, code, out, errOut, tc.code, tc.stdout, tc.stder)
		}
	}
	// The limit works: a child that needs more than it fails.
	code, _, errOut := runLimited(t, "bench", "--model", "B/16", "--batch", "64", "--seconds", "0.01")
	if code == 0 || !strings.Contains(errOut, "available") {
		t.Errorf("B/16 inference at batch 64 (1.7 GiB) under 3 GiB: exit %d, %q; want it refused by CheckMemory", code, errOut)
	}
}
