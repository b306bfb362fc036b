package main

import (
	"testing"

	"github.com/vitgo/vit/internal/offline"
)

// TestMain keeps the package's tests off the network (a dataset named
// fashion-mnist or mnist is downloaded when missing): a test that dials
// anything but this machine fails the package. A child process started by
// runLimited runs vit instead of the tests.
func TestMain(m *testing.M) {
	runChild()
	offline.Main(m)
}
