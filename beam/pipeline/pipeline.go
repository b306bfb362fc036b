// Package pipeline is vit embed and vit predict as an Apache Beam pipeline:
// image files matched by patterns on any Beam file system (local paths,
// and gs:// or s3:// when their packages are linked) are decoded and
// prepared as the model's checkpoint expects (Config.Input, as the vit
// command does), run through the model in batches formed inside each
// bundle, and written as sharded JSON lines (the lines of vit embed and
// vit predict --json: package batchrun) or Parquet. Images that cannot be
// read or decoded go, with their reason, to a dead-letter output.
//
// Output files are PREFIX-SSSSS-of-NNNNN.jsonl (or .parquet) and
// PREFIX-errors-SSSSS-of-NNNNN.jsonl ({"file", "error"} lines). Each bundle
// writes its own shards under temporary names; once every bundle is done, a
// last step numbers and renames them, writes an empty shard when there is
// nothing to write (so each pattern names at least one file), and removes
// the shards of an earlier run under the same prefix and the temporary
// files of failed bundle attempts.
//
// The model is loaded once per worker process (shared by the process's
// DoFn instances) and memory-mapped when it is a local file in vit's
// format; a model on another file system is first copied to a local
// temporary folder.
//
// Beam metrics, namespace "vit": counters images (run through the model),
// failures (dead-letter records), bytes (encoded image bytes read) and
// misfits (images that do not look like what the model takes, run all the
// same), distributions batch_size and batch_latency_us (one forward pass).
package pipeline

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/textio"

	"github.com/vitgo/vit"
	"github.com/vitgo/vit/kernels"
)

// Tasks, formats and number formats the pipeline knows.
var (
	Tasks   = []string{"embed", "predict"}
	Formats = []string{"jsonl", "parquet"}
	DTypes  = []string{"fp32", "bf16"}
)

// Options say what the pipeline reads, runs and writes.
type Options struct {
	// Model is the model: a folder, .safetensors or .npz file as
	// checkpoint.Load reads it, on the local file system or any Beam file
	// system (gs://bucket/model: the folder's files are copied to each
	// worker once).
	Model string
	// Task is "embed" (pre-head features) or "predict" (top classes).
	Task string
	// Inputs are file patterns (filepath.Match syntax, per file system) or
	// plain paths; InputList, if set, names a text file of more, one per
	// line. A plain path that does not exist, and a pattern that matches
	// nothing, go to the dead-letter output.
	Inputs    []string
	InputList string
	// Output is the prefix of the output files.
	Output string
	// Format of the records: "jsonl" or "parquet". The dead-letter output
	// is always JSON lines.
	Format string
	// Top is how many classes a prediction keeps (Task "predict").
	Top int
	// Logits adds the raw logits to each prediction.
	Logits bool
	// Batch is the most images per forward pass; batches form inside a
	// bundle and the last one of a bundle may be smaller.
	Batch int
	// DType is the number format of the matrix products: "fp32" or "bf16".
	DType string
	// ShardRecords is the most records in one output file; a bundle with
	// more writes several.
	ShardRecords int
}

// Defaults are the options of vit embed and vit predict: batches of
// vit.Batch images, the top 5 classes, float32, JSON lines.
func Defaults() Options {
	return Options{Task: "embed", Format: "jsonl", Top: 5, Batch: vit.Batch, DType: "fp32", ShardRecords: 10_000}
}

// Check says, in one line naming the option (as a flag) and what it
// allows, what is wrong with o; nil if nothing is.
func (o Options) Check() error {
	switch {
	case o.Model == "":
		return fmt.Errorf("--model is required: a model folder, .safetensors or .npz file (local, or on a Beam file system such as gs://)")
	case !oneOf(o.Task, Tasks):
		return fmt.Errorf("--task %q: use %s", o.Task, strings.Join(Tasks, " or "))
	case len(o.Inputs) == 0 && o.InputList == "":
		return fmt.Errorf("--input is required: a file pattern such as 'images/*.png' (or --input-list FILE, one path or pattern per line)")
	case o.Output == "":
		return fmt.Errorf("--output is required: the prefix of the output files (PREFIX-00000-of-00004.jsonl)")
	case strings.HasSuffix(o.Output, "/"):
		return fmt.Errorf("--output %q is a folder: give a prefix of file names inside it, such as %sembeddings", o.Output, o.Output)
	case !oneOf(o.Format, Formats):
		return fmt.Errorf("--format %q: use %s", o.Format, strings.Join(Formats, " or "))
	case o.Top < 1:
		return fmt.Errorf("--top %d: use at least 1", o.Top)
	case o.Logits && o.Task != "predict":
		return fmt.Errorf("--logits is for --task predict")
	case o.Batch < 1:
		return fmt.Errorf("--batch %d: use at least 1", o.Batch)
	case !oneOf(o.DType, DTypes):
		return fmt.Errorf("--dtype %q: use %s", o.DType, strings.Join(DTypes, " or "))
	case o.ShardRecords < 1:
		return fmt.Errorf("--shard-records %d: use at least 1", o.ShardRecords)
	}
	for _, in := range o.Inputs {
		if strings.TrimSpace(in) == "" {
			return fmt.Errorf("--input %q: give a file pattern or path", in)
		}
	}
	if _, err := kernels.ParseDType(o.DType); err != nil {
		return fmt.Errorf("--dtype: %w", err)
	}
	return nil
}

func oneOf(s string, allowed []string) bool {
	for _, a := range allowed {
		if s == a {
			return true
		}
	}
	return false
}

// Build adds the pipeline to s: match, reshuffle (so that the images spread
// over bundles and workers), infer, write, finalize. Options must pass
// Check.
func Build(s beam.Scope, o Options) error {
	if err := o.Check(); err != nil {
		return err
	}
	token, err := randomHex(6)
	if err != nil {
		return err
	}
	s = s.Scope("vit")
	var patterns []beam.PCollection
	if len(o.Inputs) > 0 {
		patterns = append(patterns, beam.CreateList(s, o.Inputs))
	}
	if o.InputList != "" {
		patterns = append(patterns, textio.Read(s, o.InputList))
	}
	paths, unmatched := beam.ParDo2(s.Scope("match"), &matchFn{}, beam.Flatten(s, patterns...))
	paths = beam.Reshuffle(s, paths)
	recs, failed := beam.ParDo2(s.Scope("infer"), &inferFn{Model: o.Model, Task: o.Task, Top: o.Top, Logits: o.Logits, Batch: o.Batch, DType: o.DType}, paths)
	failed = beam.Flatten(s, unmatched, failed)

	outs := beam.ParDo(s.Scope("write"), &writeFn{Prefix: o.Output, Token: token, Format: o.Format, Task: o.Task, Model: o.Model, Max: o.ShardRecords}, recs)
	errs := beam.ParDo(s.Scope("write_errors"), &writeFn{Prefix: o.Output + "-errors", Token: token, Format: "jsonl", Task: "errors", Max: o.ShardRecords}, failed)
	beam.ParDo0(s.Scope("finalize"), &finalizeFn{Prefix: o.Output, Token: token, Format: o.Format, Task: o.Task, Model: o.Model}, beam.Impulse(s),
		beam.SideInput{Input: outs}, beam.SideInput{Input: errs})
	return nil
}

// ShardName is the name of output shard i of n: PREFIX-SSSSS-of-NNNNN.EXT.
func ShardName(prefix string, i, n int, ext string) string {
	return fmt.Sprintf("%s-%05d-of-%05d.%s", prefix, i, n, ext)
}

// ShardPattern matches every name ShardName gives for prefix and ext.
func ShardPattern(prefix, ext string) string {
	const d5 = "[0-9][0-9][0-9][0-9][0-9]"
	return prefix + "-" + d5 + "-of-" + d5 + "." + ext
}

func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}
