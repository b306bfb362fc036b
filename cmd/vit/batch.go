package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/vitgo/vit"
	"github.com/vitgo/vit/batchrun"
	"github.com/vitgo/vit/internal/console"
)

// batchFlags are the flags vit embed and vit predict share for runs over
// many images (package batchrun).
type batchFlags struct {
	list                      string
	batch, shardSize, workers int
	quiet                     bool
}

func (b *batchFlags) register(fl flags) {
	fl.StringVar(&b.list, "list", "", "a file listing image paths, one per line (- for stdin), run after the images named as arguments")
	fl.count(&b.batch, "batch", vit.Batch, 1, "images per forward pass")
	fl.count(&b.shardSize, "shard-size", batchrun.DefaultShardSize, 1, "images per shard in an --out folder (a killed run loses at most one shard)")
	fl.count(&b.workers, "workers", 0, 0, "goroutines decoding images ahead of the model (0: one per CPU)")
	fl.BoolVar(&b.quiet, "quiet", false, "no progress bar (there is none when stderr is not a terminal)")
}

// options are the batchrun options of the flags, for task, reading the
// images of in.
func (b *batchFlags) options(task batchrun.Task, in *imageArgs) batchrun.Options {
	return batchrun.Options{Task: task, Batch: b.batch, Workers: b.workers, Path: in.path}
}

// bar starts a progress bar of total images on stderr when it is a
// terminal and --quiet is not given; its Add goes to Options.Progress. Call
// Finish when done (on a nil *console.Bar too: see finish).
func (b *batchFlags) bar(stderr io.Writer, total int, desc string) (*console.Bar, func(int)) {
	con := console.NewWriter(stderr)
	if b.quiet || !con.Terminal() || total == 0 {
		return nil, nil
	}
	bar := console.NewRateBar(con, total, desc, "images")
	return bar, bar.Add
}

// finish ends bar, if any.
func finish(bar *console.Bar) {
	if bar != nil {
		bar.Finish()
	}
}

// runShards runs o into the folder dir (batchrun.OpenShards) and prints
// what it wrote: "N WHAT written to DIR". desc is the progress bar's text.
func runShards(cmd *cobra.Command, b *batchFlags, m *vit.Model, in *imageArgs, dir string, o batchrun.ShardOptions, what, desc string) error {
	stdout, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()
	con := console.NewWriter(stderr)
	var progress func(int) // set once the images left are known
	o.Progress = func(n int) {
		if progress != nil {
			progress(n)
		}
	}
	s, err := batchrun.OpenShards(dir, m, in.files, o)
	if err != nil {
		return err
	}
	if s.Done() > 0 && !b.quiet {
		con.Printf("%s: %d images already done in %s; running the other %d", cmd.CommandPath(), s.Done(), dir, s.Left())
	}
	bar, progress := b.bar(stderr, s.Left(), desc)
	sum, err := s.Run(cmd.Context())
	finish(bar)
	if errors.Is(err, context.Canceled) {
		con.Printf("%s: the finished shards are kept in %s: run the same command again to go on", cmd.CommandPath(), dir)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%d %s written to %s", sum.Images, what, dir)
	if sum.Done > 0 {
		fmt.Fprintf(stdout, " (and %d images done before)", sum.Done)
	}
	fmt.Fprintln(stdout)
	return failures(sum, len(in.files), fmt.Sprintf(": why is in %s", filepath.Join(dir, "errors-*.jsonl")))
}

// failures is the error of a run some of whose total images could not be
// read, nil when all could; where says where the reasons are.
func failures(sum batchrun.Summary, total int, where string) error {
	if sum.Failed == 0 {
		return nil
	}
	return fmt.Errorf("%d of %d images could not be read%s", sum.Failed, total, where)
}
