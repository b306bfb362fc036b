//go:build !unix

package main

// peakRSS is the process's peak resident memory in bytes; unknown here.
func peakRSS() int64 { return 0 }
