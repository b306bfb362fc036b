package train

import (
	"testing"

	"github.com/vitgo/vit/internal/offline"
)

// TestMain keeps the package's tests off the network (a dataset named
// fashion-mnist or mnist is downloaded when missing): a test that dials
// anything but this machine fails the package.
func TestMain(m *testing.M) { offline.Main(m) }
