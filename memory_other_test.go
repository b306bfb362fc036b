//go:build !linux

package vit

import "testing"

// underMemoryLimit runs the test in this process: only Linux tests set an
// address-space limit (see memory_linux_test.go).
func underMemoryLimit(t *testing.T) bool { return false }
