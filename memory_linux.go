package vit

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// AvailableMemory is how many bytes this process can still allocate: on
// Linux the smallest of /proc/meminfo's MemAvailable (syscall.Sysinfo's
// free and buffer memory where /proc is not mounted), the room left under
// a cgroup v2 memory.max, and the room left under the address-space limit
// (RLIMIT_AS less /proc/self/status's VmSize). ok is
// false when none of them could be read; the value is then 1 TiB.
func AvailableMemory() (n int64, ok bool) {
	n = unknownMemory
	if kb, found := meminfo("MemAvailable:"); found {
		n, ok = kb*1024, true
	} else if si, err := sysinfo(); err == nil {
		n, ok = int64(si.Freeram+si.Bufferram)*int64(si.Unit), true
	}
	if limit, err := os.ReadFile("/sys/fs/cgroup/memory.max"); err == nil {
		if max, err := strconv.ParseInt(string(bytes.TrimSpace(limit)), 10, 64); err == nil {
			used := int64(0)
			if cur, err := os.ReadFile("/sys/fs/cgroup/memory.current"); err == nil {
				used, _ = strconv.ParseInt(string(bytes.TrimSpace(cur)), 10, 64)
			}
			n, ok = min(n, max-used), true
		}
	}
	var rl syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_AS, &rl) == nil && rl.Cur < 1<<62 /* RLIM_INFINITY is all ones */ {
		used, _ := procStatus("VmSize:") // address space already taken
		n, ok = min(n, int64(rl.Cur)-used*1024), true
	}
	return max(n, 0), ok
}

// physicalMemory is the machine's memory in bytes: /proc/meminfo's
// MemTotal (or syscall.Sysinfo's), 1 TiB when neither can be read.
func physicalMemory() int64 {
	if kb, ok := meminfo("MemTotal:"); ok {
		return kb * 1024
	}
	if si, err := sysinfo(); err == nil {
		return int64(si.Totalram) * int64(si.Unit)
	}
	return unknownMemory
}

func sysinfo() (*syscall.Sysinfo_t, error) {
	var si syscall.Sysinfo_t
	err := syscall.Sysinfo(&si)
	return &si, err
}

// meminfo reads the value, in KiB, of one line of /proc/meminfo.
func meminfo(key string) (int64, bool) { return procValue("/proc/meminfo", key) }

// procStatus reads the value, in KiB, of one line of /proc/self/status.
func procStatus(key string) (int64, bool) { return procValue("/proc/self/status", key) }

// procValue reads the value of the line starting with key in a /proc file
// of "Key: value kB" lines.
func procValue(path, key string) (int64, bool) {
	f, err := os.Open(path)
	if err != nil {
		return 0, false
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if rest, found := strings.CutPrefix(s.Text(), key); found {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb, err == nil
		}
	}
	return 0, false
}
