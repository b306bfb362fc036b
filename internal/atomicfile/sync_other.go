//go:build !unix

package atomicfile

// isSyncDirUnsupported reports whether err should be ignored when syncing
// a directory. On non-unix systems directory sync is best effort.
func isSyncDirUnsupported(err error) bool { return true }
