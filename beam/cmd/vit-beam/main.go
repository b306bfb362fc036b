// Command vit-beam runs vit embed or vit predict as an Apache Beam
// pipeline (package pipeline): on the embedded Prism runner by default, or
// on Flink, Spark or Dataflow through Beam's standard flags. From the
// repository root:
//
//	go run ./beam/cmd/vit-beam --model PATH --input PATTERN --output PREFIX \
//	    --task embed|predict [--format jsonl|parquet] [--top K] [--runner prism]
//
// It writes PREFIX-SSSSS-of-NNNNN.jsonl (or .parquet) and
// PREFIX-errors-SSSSS-of-NNNNN.jsonl. Exit status: 0 when every image was
// read, 1 when some could not be (they are in the errors files) or the
// pipeline failed, 2 for a bad flag.
//
// The gs:// file system is linked (with the Dataflow runner); build with
// -tags s3 to read and write s3:// too.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	beamlog "github.com/apache/beam/sdks/v2/go/pkg/beam/log"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/runners"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/x/beamx"

	"github.com/vitgo/vit/beam/pipeline"
	"github.com/vitgo/vit/internal/atomicfile"
)

// knownRunners are the --runner values this binary links (through beamx).
var knownRunners = []string{"prism", "PrismRunner", "direct", "DirectRunner", "flink", "FlinkRunner",
	"spark", "SparkRunner", "dataflow", "DataflowRunner", "universal", "portable", "PortableRunner", "dot"}

// inputs is a repeatable flag.
type inputs []string

func (i *inputs) String() string     { return strings.Join(*i, ",") }
func (i *inputs) Set(s string) error { *i = append(*i, s); return nil }

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	o := pipeline.Defaults()
	fs := flag.CommandLine // Beam's runner flags live there
	fs.Init("vit-beam", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var in inputs
	fs.StringVar(&o.Model, "model", "", "model folder, .safetensors or .npz file (local, gs://, or s3:// with -tags s3)")
	fs.StringVar(&o.Task, "task", o.Task, "embed (pre-head features) or predict (top classes)")
	fs.Var(&in, "input", "image file pattern or path (repeatable), e.g. 'photos/*.jpg' or gs://bucket/photos/*.jpg")
	fs.StringVar(&o.InputList, "input-list", "", "text file of image paths or patterns, one per line")
	fs.StringVar(&o.Output, "output", "", "output prefix: PREFIX-SSSSS-of-NNNNN.jsonl and PREFIX-errors-SSSSS-of-NNNNN.jsonl")
	fs.StringVar(&o.Format, "format", o.Format, "jsonl or parquet")
	fs.IntVar(&o.Top, "top", o.Top, "classes per prediction (--task predict)")
	fs.BoolVar(&o.Logits, "logits", false, "include the raw logits (--task predict)")
	fs.IntVar(&o.Batch, "batch", o.Batch, "images per forward pass")
	fs.StringVar(&o.DType, "dtype", o.DType, "number format of the matrix products: fp32 or bf16")
	fs.IntVar(&o.ShardRecords, "shard-records", o.ShardRecords, "most records per output file")
	verbose := fs.Bool("verbose", false, "log the runner's progress (Beam's INFO level)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stdout)
			fmt.Fprintln(stdout, "usage: vit-beam --model PATH --input PATTERN --output PREFIX --task embed|predict [flags]")
			fs.PrintDefaults()
			return 0
		}
		fmt.Fprintf(stderr, "vit-beam: %v (vit-beam -h lists the flags)\n", err)
		return 2
	}
	if w := fs.Lookup("worker"); !*verbose && (w == nil || w.Value.String() != "true") {
		beamlog.LogLevel = "warn" // Prism's job-service chatter; workers keep Beam's level
	}
	// A worker process started by a runner (--worker) runs the SDK harness
	// here and never returns.
	beam.Init()
	o.Inputs = in
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "vit-beam: unexpected argument %q: name images with --input PATTERN\n", fs.Arg(0))
		return 2
	}
	if err := o.Check(); err != nil {
		fmt.Fprintf(stderr, "vit-beam: %v\n", err)
		return 2
	}
	if r := *runners.Runner; r != "" && !slices.Contains(knownRunners, r) {
		fmt.Fprintf(stderr, "vit-beam: --runner %q: use prism (the default), flink, spark, dataflow or universal\n", r)
		return 2
	}
	ctx := context.Background()
	// On a runner whose workers are this process, a wrong --model,
	// --input-list or --output is one line now rather than a failed job. Elsewhere the path is the
	// workers' (a folder in their container image, or gs://).
	if inProcess(*runners.Runner) {
		if err := pipeline.CheckModel(ctx, o); err != nil {
			fmt.Fprintf(stderr, "vit-beam: %v\n", err)
			return 1
		}
		if l := o.InputList; l != "" && !strings.Contains(l, "://") {
			if _, err := os.Stat(l); err != nil {
				fmt.Fprintf(stderr, "vit-beam: --input-list: %v\n", err)
				return 1
			}
		}
		if !strings.Contains(o.Output, "://") {
			if err := atomicfile.CheckDir(filepath.Dir(o.Output)); err != nil {
				fmt.Fprintf(stderr, "vit-beam: --output: %v\n", err)
				return 1
			}
		}
	}
	p, s := beam.NewPipelineWithRoot()
	if err := pipeline.Build(s, o); err != nil {
		fmt.Fprintf(stderr, "vit-beam: %v\n", err)
		return 2
	}
	res, err := beamx.RunWithMetrics(ctx, p)
	if err != nil {
		fmt.Fprintf(stderr, "vit-beam: the pipeline failed: %v\n", err)
		return 1
	}
	if res == nil {
		return 0 // a runner that does not wait for the job
	}
	sum := pipeline.Summarize(res.Metrics())
	outs, errs := o.Output+"-?????-of-?????."+o.Format, o.Output+"-errors-?????-of-?????.jsonl"
	fmt.Fprintf(stdout, "%d images written to %s, %d failed (%s)\n", sum.Images, outs, sum.Failures, errs)
	if sum.Failures > 0 {
		fmt.Fprintf(stderr, "vit-beam: %d of %d inputs (images, or patterns that match nothing) could not be read: their reasons are in %s\n",
			sum.Failures, sum.Images+sum.Failures, errs)
		return 1
	}
	return 0
}

// inProcess says whether runner runs the workers in this process (Prism,
// the default, and the direct runner).
func inProcess(runner string) bool {
	switch runner {
	case "", "prism", "PrismRunner", "direct", "DirectRunner":
		return true
	}
	return false
}
