package main

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/vitgo/vit/batchrun"
	"github.com/vitgo/vit/checkpoint"
	"github.com/vitgo/vit/data"
	"github.com/vitgo/vit/internal/atomicfile"
	"github.com/vitgo/vit/internal/console"
	"github.com/vitgo/vit/train"
	"github.com/vitgo/vit/viz"
)

// reportFlags are vit report's flags.
type reportFlags struct {
	model, run, data, fuse, out string
	images, rollouts, batch     int
	discard                     float64
}

func reportCommand() *cobra.Command {
	var f reportFlags
	cmd := &cobra.Command{
		Use:   "report --model PATH [--run RUN] [--data SPEC] [--images N] --out DIR",
		Short: "the paper's figures for a model (rollout, embedding PCA, position similarity, attention distance, training curves) as one HTML report",
		Args:  noArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return runReport(cmd, &f) },
	}
	fs := cmd.Flags()
	fl := flags{fs}
	fs.StringVar(&f.model, "model", "", "model folder, model.safetensors file, or training run folder (default: --run)")
	fs.StringVar(&f.run, "run", "", "training run folder: adds training curves and the test-set confusion matrix")
	fs.StringVar(&f.data, "data", "", "images for the attention figures: a dataset as for vit train (its test split is used) or a folder of images (default: installed Fashion-MNIST, else the embedded subset)")
	fl.count(&f.images, "images", 256, 1, "images averaged in the mean attention distance")
	fl.count(&f.rollouts, "rollouts", 8, 0, "images drawn with their attention rollout")
	fl.enum(&f.fuse, "fuse", "mean", fuses, "how rollout fuses the heads of a layer: mean, max or min")
	fl.rate(&f.discard, "discard", 0, "fraction of the smallest attention weights of each row dropped before rollout, in [0, 1)")
	fl.count(&f.batch, "batch", 256, 1, "batch size of the confusion-matrix evaluation")
	fs.StringVar(&f.out, "out", "", "report folder (created)")
	return cmd
}

func runReport(cmd *cobra.Command, f *reportFlags) error {
	stdout, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()
	if f.model == "" {
		f.model = f.run
	}
	if f.model == "" || f.out == "" {
		return usageErrorf("--model (or --run) and --out are required")
	}
	opt := viz.RolloutOptions{Fuse: viz.Fuse(f.fuse), Discard: f.discard}
	if err := opt.Validate(); err != nil {
		return err
	}
	if err := atomicfile.CheckDir(f.out); err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	m, err := checkpoint.LoadContext(cmd.Context(), f.model)
	if err != nil {
		return err
	}
	if err := needSoftmax(m, f.model); err != nil {
		return err
	}
	c := m.Config
	if err := c.CheckMemory(max(f.batch, f.images), false); err != nil {
		return fmt.Errorf("%w (--batch, --images)", err)
	}
	var bar *console.Bar
	in := viz.ReportInput{Model: m, ModelName: f.model, Rollouts: f.rollouts, Rollout: opt,
		Progress: func(done, total int) {
			if bar == nil {
				bar = console.NewBar(stderr, total, "mean attention distance")
			}
			bar.Add(done - bar.Done())
		}}

	var test *data.Dataset
	if files := imageFiles(f.data); len(files) > 0 {
		n := min(f.images, len(files))
		in.DataName = f.data
		mf := &batchrun.Misfits{}
		for _, f := range files[:n] {
			px, err := loadPlanar(f, f, c, mf)
			if err != nil {
				return err
			}
			in.Images = append(in.Images, px...)
			in.Names = append(in.Names, filepath.Base(f))
			in.Labels = append(in.Labels, -1)
		}
		mf.Done()
		in.N = n
	} else {
		_, test, err = data.OpenContext(cmd.Context(), nil, f.data)
		if err != nil {
			return err
		}
		if test.C == c.Channels { // a model fine-tuned at another size: the data at its size
			if err := resizeSets(stderr, c.ImageHeight, c.ImageWidth, &test); err != nil {
				return err
			}
		}
		if test.C != c.Channels || test.H != c.ImageHeight || test.W != c.ImageWidth {
			msg := fmt.Sprintf("%s has %d×%d images with %d channel(s) but the model takes %d×%d with %d", test.Name,
				test.H, test.W, test.C, c.ImageHeight, c.ImageWidth, c.Channels)
			if f.data != "" {
				return fmt.Errorf("%s", msg)
			}
			fmt.Fprintf(stderr, "%s: leaving out the figures that need images (pass --data).\n", msg)
			test = nil
		} else {
			in.DataName = test.Name
			n := min(f.images, test.N)
			// Images spread evenly over the test set, which is often sorted
			// by class.
			idx := make([]int, n)
			for i := range idx {
				idx[i] = i * test.N / n
			}
			sub := test.Subset(idx)
			in.Images, in.N, in.Labels = sub.Pixels, sub.N, sub.Labels
			for _, i := range idx {
				in.Names = append(in.Names, fmt.Sprintf("test #%d", i))
			}
			if c.Labels == nil && len(test.Classes) == c.Classes {
				c.Labels = test.Classes
				m.Config.Labels = test.Classes
			}
		}
	}
	if f.run != "" {
		rm, err := viz.ReadMetrics(f.run)
		if err != nil {
			fmt.Fprintf(stderr, "no training curves: %v\n", err)
		} else {
			in.Metrics = rm
			if rm.Skipped > 0 {
				slog.Warn("the metrics log has lines that are not records: the training curves leave them out",
					"run", f.run, "lines", rm.Skipped, "first", rm.FirstSkipped)
			}
		}
		if test != nil {
			fmt.Fprintf(stderr, "evaluating on %s (%d images)\n", test.Name, test.N)
			ev, err := train.EvaluateContext(cmd.Context(), m, test, train.EvalOptions{Batch: f.batch})
			if err != nil {
				return err
			}
			in.Confusion, in.TestName = ev.Confusion, fmt.Sprintf("%s (%d images, accuracy %.2f%%)", test.Name, ev.N, 100*ev.Accuracy)
		}
	}
	rep, err := viz.BuildReport(f.out, in)
	if bar != nil {
		bar.Finish()
	}
	if err != nil {
		return err
	}
	if by := rep.AttentionDistanceByLayer; len(by) > 0 {
		fmt.Fprintf(stderr, "mean attention distance, pixels (uniform attention %.1f):\n", rep.UniformAttentionDistance)
		for l, d := range by {
			fmt.Fprintf(stderr, "  layer %2d: heads %.1f–%.1f, mean %.1f\n", l+1, d.Min, d.Max, d.Mean)
		}
		fmt.Fprintf(stderr, "  growth with depth: %+.2f pixels per layer\n", rep.AttentionDistanceGrowth)
	}
	fmt.Fprintln(stdout, filepath.Join(f.out, viz.ReportHTML))
	return nil
}

// imageFiles lists the image files directly inside dir, sorted; none when
// dir is not a folder or holds class sub-folders instead.
func imageFiles(dir string) []string {
	if dir == "" {
		return nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var files []string
	for _, e := range entries {
		switch strings.ToLower(filepath.Ext(e.Name())) {
		case ".png", ".jpg", ".jpeg", ".gif", ".bmp", ".tif", ".tiff", ".webp":
			if !e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
				files = append(files, filepath.Join(dir, e.Name()))
			}
		}
	}
	sort.Strings(files)
	return files
}
