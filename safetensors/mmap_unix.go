//go:build unix

package safetensors

import (
	"fmt"
	"math"
	"os"
	"syscall"
)

// Open opens and parses the named safetensors file. On Unix systems the
// file is memory-mapped privately (copy-on-write), so tensors are paged in
// on demand and F32View can hand out float32 slices that alias the file;
// writes to them never reach the file. The File must be closed to release
// the mapping. As with any mapping, truncating the file while it is mapped
// makes reading the lost part fault.
func Open(path string) (*File, error) {
	fd, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fd.Close() // the mapping stays valid after the descriptor is closed
	fi, err := fd.Stat()
	if err != nil {
		return nil, err
	}
	size := fi.Size()
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("safetensors: %s: not a regular file", path)
	}
	if size < 8 {
		return nil, fmt.Errorf("safetensors: %s: file too short (%d bytes)", path, size)
	}
	if size > math.MaxInt {
		return nil, fmt.Errorf("safetensors: %s: file too large to map (%d bytes)", path, size)
	}
	data, err := syscall.Mmap(int(fd.Fd()), 0, int(size), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE)
	if err != nil {
		return nil, &os.PathError{Op: "mmap", Path: path, Err: err}
	}
	f, err := Parse(data)
	if err != nil {
		syscall.Munmap(data)
		return nil, fmt.Errorf("%w (in %s)", err, path)
	}
	f.closer = func() error { return syscall.Munmap(data) }
	f.mapped = true
	return f, nil
}
