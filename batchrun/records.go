package batchrun

import (
	"encoding/json"
	"fmt"

	"github.com/vitgo/vit"
)

// Embedding is one line of vit embed's JSON lines: an image file and its
// pre-head feature vector, [Config.FeatureDim()] (vit.Embed).
type Embedding struct {
	File     string    `json:"file"`
	Features []float32 `json:"features"`
}

// Prediction is one line of vit predict --json: an image file and its most
// probable classes, most probable first (vit.Classify), with the raw
// logits, [classes], when asked for. On standard output an image that
// cannot be read has a line with Error instead (in a folder of shards it
// goes to the errors file as a Failure).
type Prediction struct {
	File   string      `json:"file"`
	Top    []vit.Class `json:"top,omitempty"`
	Logits []float32   `json:"logits,omitempty"`
	Probs  []float32   `json:"probs,omitempty"` // vit zeroshot: each label's probability
	Error  string      `json:"error,omitempty"`
}

// Failure is one line of an errors file: an image that could not be read
// and why.
type Failure struct {
	File  string `json:"file"`
	Error string `json:"error"`
}

// ParquetRow is one row of an embeddings Parquet file: columns file
// (string), vector (list of float32, [dim]) and model (the model's name,
// dictionary-encoded).
type ParquetRow struct {
	File   string    `parquet:"file"`
	Vector []float32 `parquet:"vector,list"`
	Model  string    `parquet:"model,dict"`
}

// EmbeddingLines turns a batch result into vit embed's JSON lines, without
// their final newlines: features[i], the vector of files[i] (as
// vit.EmbedBatch returns them).
func EmbeddingLines(files []string, features [][]float32) ([][]byte, error) {
	if len(files) != len(features) {
		return nil, fmt.Errorf("batchrun: %d files for %d feature vectors", len(files), len(features))
	}
	lines := make([][]byte, len(files))
	for i, f := range files {
		b, err := json.Marshal(Embedding{File: f, Features: features[i]})
		if err != nil {
			return nil, fmt.Errorf("batchrun: %s: %w", f, err)
		}
		lines[i] = b
	}
	return lines, nil
}

// PredictionLines turns a batch result into vit predict --json's lines,
// without their final newlines: top[i], the classes of files[i] (as
// vit.ClassifyBatch returns them), and logits[i] when logits is not nil.
func PredictionLines(files []string, top [][]vit.Class, logits [][]float32) ([][]byte, error) {
	if len(files) != len(top) || logits != nil && len(logits) != len(files) {
		return nil, fmt.Errorf("batchrun: %d files for %d predictions and %d logit vectors", len(files), len(top), len(logits))
	}
	lines := make([][]byte, len(files))
	for i, f := range files {
		p := Prediction{File: f, Top: top[i]}
		if logits != nil {
			p.Logits = logits[i]
		}
		b, err := json.Marshal(p)
		if err != nil {
			return nil, fmt.Errorf("batchrun: %s: %w", f, err)
		}
		lines[i] = b
	}
	return lines, nil
}
