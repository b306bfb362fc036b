//go:build unix

package atomicfile

import (
	"errors"
	"syscall"
)

// isSyncDirUnsupported reports whether err is the error some file
// systems return when fsync is applied to a directory.
func isSyncDirUnsupported(err error) bool {
	return errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOTSUP)
}
