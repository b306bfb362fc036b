// Package fsfault makes file writes fail in tests, in a way that root
// cannot bypass (CI runs tests as root, which ignores permission bits): a
// file-size limit (RLIMIT_FSIZE) turns every write that would take a file
// past the limit into an error (EFBIG, "file too large"), as a full disk
// does with ENOSPC.
package fsfault

import "testing"

// LimitFileSize makes every write that would take a regular file past n
// bytes fail, until the returned function is called or tb ends. The limit
// holds for the whole process: tests that use it must not run in
// parallel with others. Where the platform has no such limit, it skips
// tb.
func LimitFileSize(tb testing.TB, n uint64) (lift func()) {
	tb.Helper()
	lift, err := limitFileSize(n)
	if err != nil {
		tb.Skipf("cannot limit file sizes here: %v", err)
	}
	tb.Cleanup(lift)
	return lift
}
