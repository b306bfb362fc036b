package checkpoint

import (
	"fmt"
	"io"
	"os"
)

// maxConfigBytes bounds a JSON file beside the weights (config.json,
// preprocessor_config.json, a shard index, state.json). The largest real
// ones, label lists of ImageNet-21k, take about a megabyte.
const maxConfigBytes = 64 << 20

// readConfig reads a JSON file beside the weights, refusing one longer
// than maxConfigBytes (a device such as /dev/zero, or a file that is not a
// config) instead of reading it whole. Errors wrap the fs errors, so
// errors.Is(err, fs.ErrNotExist) works.
func readConfig(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxConfigBytes+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxConfigBytes {
		return nil, fmt.Errorf("%s is over %d MiB: not a config file", path, maxConfigBytes>>20)
	}
	return b, nil
}
