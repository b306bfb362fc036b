//go:build linux

package kernels

import "syscall"

func niceSupported() error { return nil }

// threadNice is the calling thread's nice value.
func threadNice() (int, error) {
	// getpriority's system call returns 20 − nice, so that it is never
	// negative.
	p, err := syscall.Getpriority(syscall.PRIO_PROCESS, syscall.Gettid())
	if err != nil {
		return 0, err
	}
	return 20 - p, nil
}

// setThreadNice sets the calling thread's nice value (on Linux,
// PRIO_PROCESS with a thread ID affects that thread only). Lowering it
// below the process's may need CAP_SYS_NICE.
func setThreadNice(nice int) error {
	return syscall.Setpriority(syscall.PRIO_PROCESS, syscall.Gettid(), nice)
}
