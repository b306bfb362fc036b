//go:build !linux

package kernels

import (
	"errors"
	"runtime"
)

var errNice = errors.New("a lower priority for compute threads is supported on Linux only, not " + runtime.GOOS)

func niceSupported() error         { return errNice }
func threadNice() (int, error)     { return 0, errNice }
func setThreadNice(nice int) error { return errNice }
