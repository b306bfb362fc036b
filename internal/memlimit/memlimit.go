// Package memlimit runs a test in a child process under a hard limit on
// its address space, so that a test of a decompression bomb or a lying
// header can fail cleanly: an unbounded allocation kills the child, not
// the test binary, and the parent test reports it.
package memlimit

import (
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strings"
	"testing"
)

// envKey names the test a child process runs under the limit.
const envKey = "VIT_MEMLIMIT_TEST"

// Child runs the calling test again in a child process whose address space
// is limited to limit bytes (RLIMIT_AS, a hard limit: an allocation past it
// fails and the Go runtime aborts). In the parent it returns false after
// the child finished, failing t if the child failed; the test must then
// return. In the child it sets the limit and returns true: the test body
// runs there.
//
// The limit covers the whole process, Go runtime included; a few GiB leave
// ample room for a test binary while any allocation of the sizes bombs ask
// for fails. Child skips the test where the limit cannot be set (systems
// other than Linux) and under the race detector, whose shadow memory needs
// more.
func Child(t *testing.T, limit uint64) bool {
	t.Helper()
	if os.Getenv(envKey) == t.Name() {
		if err := setLimit(limit); err != nil {
			t.Fatalf("memlimit: setting RLIMIT_AS to %d bytes: %v", limit, err)
		}
		return true
	}
	if !supported {
		t.Skip("memlimit: no hard address-space limit on " + runtime.GOOS)
	}
	if raceEnabled {
		t.Skip("memlimit: the race detector needs more address space than the limit allows")
	}
	out, err := runChild(t.Name())
	if err != nil {
		t.Fatalf("under a %s address-space limit the test failed (%v): its output:\n%s", human(limit), err, clip(out, 3000, 1000))
	}
	if !strings.Contains(string(out), "--- PASS: "+t.Name()) {
		t.Fatalf("the child process did not run %s:\n%s", t.Name(), clip(out, 3000, 1000))
	}
	return false
}

// runChild runs the test named name (a t.Name()) in a child process of
// the test binary, which sets the limit when the test calls Child.
func runChild(name string) ([]byte, error) {
	parts := strings.Split(name, "/")
	for i, p := range parts {
		parts[i] = "^" + regexp.QuoteMeta(p) + "$"
	}
	cmd := exec.Command(os.Args[0], "-test.run="+strings.Join(parts, "/"), "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), envKey+"="+name)
	return cmd.CombinedOutput()
}

func human(n uint64) string {
	return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
}

// clip returns the first head and last tail bytes of b: where a child
// died, its first lines say why (fatal error: out of memory) and its last
// ones how the test ended.
func clip(b []byte, head, tail int) string {
	if len(b) <= head+tail {
		return string(b)
	}
	return string(b[:head]) + "\n…\n" + string(b[len(b)-tail:])
}
