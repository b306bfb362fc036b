package vit

import (
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
)

// limitEnv names, in a child's environment, the test it runs under a limit.
const limitEnv = "VIT_TEST_UNDER_LIMIT"

// underMemoryLimit reruns the calling test in a child process limited to
// 2 GiB of address space, so that a regression that allocates what it
// should refuse dies there, out of memory, instead of in this process. In
// the parent it waits for the child, fails t if the child failed, and
// returns true; in the child it sets the limit and returns false, and the
// test goes on.
func underMemoryLimit(t *testing.T) bool {
	t.Helper()
	if os.Getenv(limitEnv) == t.Name() {
		lim := syscall.Rlimit{Cur: 2 << 30, Max: 2 << 30}
		if err := syscall.Setrlimit(syscall.RLIMIT_AS, &lim); err != nil {
			t.Fatalf("setrlimit: %v", err)
		}
		return false
	}
	cmd := exec.Command(os.Args[0], "-test.run=^"+t.Name()+"$", "-test.v")
	cmd.Env = append(os.Environ(), limitEnv+"="+t.Name())
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: "+t.Name()) {
		t.Fatalf("%s under a 2 GiB address-space limit: %v\n%s", t.Name(), err, out)
	}
	return true
}
