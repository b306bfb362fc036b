package memlimit

import "syscall"

// supported reports whether setLimit works here.
const supported = true

// setLimit limits this process's address space to limit bytes.
func setLimit(limit uint64) error {
	return syscall.Setrlimit(syscall.RLIMIT_AS, &syscall.Rlimit{Cur: limit, Max: limit})
}
