package checkpoint

import "fmt"

// Tensors are the weights of a Hugging Face or timm checkpoint, opened by
// name for loaders of models outside package vit (the text towers of
// package text): model.safetensors, its shards, or pytorch_model.bin
// (and its shards), each file's sizes checked as the loaders here check
// them. Data is read on demand.
type Tensors struct {
	src  *stSource
	path string
}

// OpenTensors opens the weights of the checkpoint at path: a weights
// file, or a folder holding model.safetensors,
// model.safetensors.index.json, pytorch_model.bin or
// pytorch_model.bin.index.json (the first found).
func OpenTensors(path string) (*Tensors, error) {
	w, err := weightsFile(path)
	if err != nil {
		return nil, err
	}
	src, err := openWeights(w)
	if err != nil {
		return nil, err
	}
	return &Tensors{src: src, path: w}, nil
}

// Path is the weights file (or shard index) opened.
func (t *Tensors) Path() string { return t.path }

// Names lists the tensors, sorted.
func (t *Tensors) Names() []string { return t.src.names() }

// Shape returns a tensor's shape as its file declares it (checked against
// the bytes the file holds), and whether it exists.
func (t *Tensors) Shape(name string) ([]int, bool) { return t.src.shape(name) }

// Float32 reads a tensor, converted to float32.
func (t *Tensors) Float32(name string) ([]float32, error) {
	v, _, err := t.src.read(name)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", t.path, err)
	}
	return v, nil
}

// Close releases the files.
func (t *Tensors) Close() error { return t.src.close() }
