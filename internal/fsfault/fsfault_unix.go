//go:build unix

package fsfault

import (
	"os/signal"
	"sync"
	"syscall"
)

func limitFileSize(n uint64) (func(), error) {
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
		return nil, err
	}
	// Past the limit the kernel sends SIGXFSZ, which kills the process by
	// default; ignored, the write fails with EFBIG instead.
	signal.Ignore(syscall.SIGXFSZ)
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &syscall.Rlimit{Cur: n, Max: old.Max}); err != nil {
		signal.Reset(syscall.SIGXFSZ)
		return nil, err
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			syscall.Setrlimit(syscall.RLIMIT_FSIZE, &old)
			signal.Reset(syscall.SIGXFSZ)
		})
	}, nil
}
