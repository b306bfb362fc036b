//go:build !linux

package memlimit

import "errors"

// supported reports whether setLimit works here.
const supported = false

func setLimit(uint64) error { return errors.New("not supported on this system") }
