package batchrun

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/parquet-go/parquet-go"

	"github.com/vitgo/vit"
	"github.com/vitgo/vit/internal/atomicfile"
	"github.com/vitgo/vit/safetensors"
)

// Format is how results are stored.
type Format string

const (
	JSONL       Format = "jsonl"       // JSON lines: Embedding or Prediction
	Safetensors Format = "safetensors" // embeddings: tensor "features" [images, dim], file names in the metadata
	Parquet     Format = "parquet"     // embeddings: ParquetRow rows
)

// Formats are the formats, for messages and flags.
var Formats = []string{string(JSONL), string(Safetensors), string(Parquet)}

// FileFormat returns the format of an output file named path from its
// extension (.jsonl or .json, .safetensors, .parquet); ok is false for
// any other name.
func FileFormat(path string) (f Format, ok bool) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".jsonl", ".json":
		return JSONL, true
	case ".safetensors":
		return Safetensors, true
	case ".parquet":
		return Parquet, true
	}
	return "", false
}

// ext is the file name extension of format f.
func (f Format) ext() string { return "." + string(f) }

// checkFormat refuses a format task t cannot be written in.
func checkFormat(t Task, f Format) error {
	switch {
	case f == JSONL:
	case f != Safetensors && f != Parquet:
		return fmt.Errorf("batchrun: format %q: use %s", f, strings.Join(Formats, ", "))
	case t != Embed:
		return fmt.Errorf("predictions are written as JSON lines (%s); %s is for embeddings", JSONL, f)
	}
	return nil
}

// dataWriter writes the results of one file (a shard) as they come;
// nothing is at its path before commit.
type dataWriter interface {
	add(r Result) error
	commit() error
	abort()
}

// newDataWriter starts the data file path in format f for task t; model
// is the model's name (Parquet's model column, the safetensors metadata).
func newDataWriter(path string, f Format, t Task, m *vit.Model, model string) (dataWriter, error) {
	af, err := atomicfile.Create(path, 0o644)
	if err != nil {
		return nil, err
	}
	switch f {
	case Safetensors:
		return &safetensorsWriter{f: af, dim: m.Config.FeatureDim(), meta: map[string]string{
			"pool": poolName(m.Config), "model": model}}, nil
	case Parquet:
		return &parquetWriter{f: af, w: parquet.NewGenericWriter[ParquetRow](af), model: model}, nil
	}
	return &jsonlWriter{f: af, enc: json.NewEncoder(af), task: t}, nil
}

// jsonlWriter writes Embedding or Prediction lines.
type jsonlWriter struct {
	f    *atomicfile.File
	enc  *json.Encoder
	task Task
}

func (w *jsonlWriter) add(r Result) error {
	if w.task == Embed {
		return w.enc.Encode(Embedding{File: r.File, Features: r.Features})
	}
	return w.enc.Encode(Prediction{File: r.File, Top: r.Top, Logits: r.Logits})
}
func (w *jsonlWriter) commit() error { return w.f.Commit() }
func (w *jsonlWriter) abort()        { w.f.Abort() }

// parquetWriter writes ParquetRow rows.
type parquetWriter struct {
	f     *atomicfile.File
	w     *parquet.GenericWriter[ParquetRow]
	model string
}

func (w *parquetWriter) add(r Result) error {
	_, err := w.w.Write([]ParquetRow{{File: r.File, Vector: r.Features, Model: w.model}})
	return err
}

func (w *parquetWriter) commit() error {
	if err := w.w.Close(); err != nil {
		w.f.Abort()
		return err
	}
	return w.f.Commit()
}
func (w *parquetWriter) abort() { w.f.Abort() }

// safetensorsWriter holds the vectors until commit: a safetensors header,
// which comes first, needs their number.
type safetensorsWriter struct {
	f     *atomicfile.File
	dim   int
	files []string
	feats []float32
	meta  map[string]string
}

func (w *safetensorsWriter) add(r Result) error {
	w.files = append(w.files, r.File)
	w.feats = append(w.feats, r.Features...)
	return nil
}

func (w *safetensorsWriter) commit() error {
	names, err := json.Marshal(w.files)
	if err != nil {
		w.f.Abort()
		return err
	}
	w.meta["files"] = string(names)
	t := []safetensors.Tensor{{Name: "features", Shape: []int{len(w.files), w.dim}, Data: w.feats}}
	if err := safetensors.Write(w.f, t, w.meta); err != nil {
		w.f.Abort()
		return err
	}
	return w.f.Commit()
}
func (w *safetensorsWriter) abort() { w.f.Abort() }

// WriteFile runs m over files, as Stream does, into the one file path in
// format f, written as the run goes and put in place atomically at the
// end: nothing is written when the run stops early or no image could be
// read. model is the model's name (ModelName), for Parquet and
// safetensors. Images that cannot be read are handed to bad, in order, and
// counted in the Summary; they are not an error.
func WriteFile(ctx context.Context, m *vit.Model, files []string, path string, f Format, model string, o Options, bad func(Result)) (Summary, error) {
	if err := o.check(); err != nil {
		return Summary{}, err
	}
	if err := checkFormat(o.Task, f); err != nil {
		return Summary{}, err
	}
	w, err := newDataWriter(path, f, o.Task, m, model)
	if err != nil {
		return Summary{}, err
	}
	defer w.abort()
	sum, err := Stream(ctx, m, files, o, func(r Result) error {
		if r.Err != nil {
			if bad != nil {
				bad(r)
			}
			return nil
		}
		return w.add(r)
	})
	if err != nil {
		return sum, err
	}
	if sum.Images == 0 {
		return sum, fmt.Errorf("none of the %d images could be read: %s not written", len(files), path)
	}
	return sum, w.commit()
}

// poolName is the pooling that made the features, for the safetensors
// metadata: Config.Pool, "cls" when empty.
func poolName(c vit.Config) string {
	if c.Pool == "" {
		return "cls"
	}
	return c.Pool
}
