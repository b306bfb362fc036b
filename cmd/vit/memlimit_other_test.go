//go:build !linux

package main

// runChild does nothing where the memory-limit tests do not run.
func runChild() {}
