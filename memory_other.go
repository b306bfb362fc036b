//go:build !linux

package vit

// AvailableMemory is how many bytes this process can still allocate. Only
// Linux is asked (see memory_linux.go); elsewhere ok is false and the
// value is 1 TiB, so that CheckMemory refuses only what no machine has.
func AvailableMemory() (n int64, ok bool) { return unknownMemory, false }

// physicalMemory is the machine's memory in bytes; elsewhere than Linux it
// is taken to be 1 TiB.
func physicalMemory() int64 { return unknownMemory }
