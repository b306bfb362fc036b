// Package boundedread reads small files (configs, tokenizer files) whole,
// refusing one larger than a limit instead of reading it: a device such as
// /dev/zero, or a huge file named by mistake, costs nothing.
package boundedread

import (
	"fmt"
	"io"
	"os"
)

// File reads the file at path, of at most limit bytes. Errors wrap the fs
// errors, so errors.Is(err, fs.ErrNotExist) works.
func File(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s is over %d MiB: not the file expected", path, limit>>20)
	}
	return b, nil
}
