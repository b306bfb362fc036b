//go:build !unix

package safetensors

import (
	"fmt"
	"os"
)

// Open opens and parses the named safetensors file. On this platform the
// file is read into memory; Close releases nothing but should still be
// called for portability.
func Open(path string) (*File, error) {
	fd, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fd.Close()
	fi, err := fd.Stat()
	if err != nil {
		return nil, err
	}
	f, err := Read(fd, fi.Size())
	if err != nil {
		return nil, fmt.Errorf("%w (in %s)", err, path)
	}
	return f, nil
}
