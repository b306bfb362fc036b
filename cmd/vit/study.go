package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/vitgo/vit/data"
	"github.com/vitgo/vit/internal/console"
	"github.com/vitgo/vit/study"
)

// studyFlags are vit study's flags.
type studyFlags struct {
	data, out, budget, sizes string
	steps                    int
	dryRun                   bool
}

func studyCommand() *cobra.Command {
	var f studyFlags
	cmd := &cobra.Command{
		Use:   "study data-size|compute|pos-embed [--data D] [--out DIR] [--budget quick|full] [--sizes N,N,...]",
		Short: "the paper's inductive-bias experiments: accuracy against data size, against compute, and per position embedding",
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageErrorf("give one study: %s", strings.Join(study.Kinds, ", "))
			}
			for _, k := range study.Kinds {
				if args[0] == k {
					return nil
				}
			}
			return usageErrorf("unknown study %q: use %s", args[0], strings.Join(study.Kinds, ", "))
		},
		RunE: func(cmd *cobra.Command, args []string) error { return runStudy(cmd, args[0], &f) },
	}
	fs := cmd.Flags()
	fl := flags{fs}
	fs.StringVar(&f.data, "data", "", "dataset (as for vit train; default: installed Fashion-MNIST)")
	fs.StringVar(&f.out, "out", "study", "study folder: study.json, study.html and a run folder per run; a folder holding the same study resumes it")
	fl.enum(&f.budget, "budget", "quick", study.Budgets, "plan size: quick (about 20 minutes of compute on 2 cores) or full (a few hours)")
	fl.parsed(&f.sizes, "sizes", "", parseSizes, []string{"0", "-5", "x", "100,,200", "1e3"},
		"data-size: training-set sizes N,N,... (default: 1000,3000,10000 quick; 1000,3000,10000,30000 and all full)")
	fl.count(&f.steps, "steps", 0, 1, "every run's length in optimizer steps (default: the budget's)")
	fs.BoolVar(&f.dryRun, "dry-run", false, "print the plan (runs, steps, training FLOPs) and stop")
	return cmd
}

// parseSizes checks --sizes: positive integers separated by commas.
func parseSizes(s string) error {
	_, err := sizeList(s)
	return err
}

func sizeList(s string) ([]int, error) {
	if s == "" {
		return nil, nil
	}
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, errors.New("want positive image counts separated by commas, e.g. 1000,3000,10000")
		}
		out = append(out, n)
	}
	return out, nil
}

func runStudy(cmd *cobra.Command, kind string, f *studyFlags) error {
	stdout, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()
	sizes, _ := sizeList(f.sizes) // checked as parsed
	if len(sizes) > 0 && kind != "data-size" {
		return usageErrorf("--sizes: the data-size study's; %s trains on all the training images", kind)
	}
	trainSet, testSet, err := data.OpenContext(cmd.Context(), nil, f.data)
	if err != nil {
		return err
	}
	o := study.Options{Budget: f.budget, Sizes: sizes, Steps: f.steps}
	plan, err := study.NewPlan(kind, o, trainSet.N, trainSet.H, trainSet.W, trainSet.C, len(trainSet.Classes))
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "Study %s on %s (budget %s): %d runs, %d steps, %.1f TFLOPs of training and scoring; %d validation and %d test images. Folder: %s\n",
		kind, trainSet.Name, plan.Budget, len(plan.Specs), plan.Steps(), plan.TrainFLOPs(testSet.N)/1e12, plan.Validation, testSet.N, f.out)
	if f.dryRun {
		for _, s := range plan.Specs {
			fmt.Fprintf(stdout, "%-40s %9d images %6d steps  batch %3d  %7.1f MFLOPs/image\n", s.ID, s.Images, s.Options.Steps, s.Options.Batch, float64(s.Config.FLOPs())/1e6)
		}
		return nil
	}
	var bar *console.Bar
	o.Progress = func(p study.Progress) {
		if bar == nil {
			bar = console.NewBar(stderr, p.Total, "study")
			bar.Add(p.Done)
		}
		if p.Run != "" {
			bar.Describe(fmt.Sprintf("run %d/%d %s", p.Index, p.Runs, p.Run))
		}
		bar.Add(p.Done - bar.Done())
	}
	st, err := study.Run(cmd.Context(), kind, trainSet, testSet, f.out, o)
	if bar != nil {
		bar.Finish()
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%-8s %-16s %5s %12s %10s\n", "family", "point", "runs", "validation", "test")
	for _, p := range st.Points() {
		fmt.Fprintf(stdout, "%-8s %-16s %5d %11.2f%% %9.2f%%\n", p.Family, p.Point, p.Runs, 100*p.Val, 100*p.Test)
	}
	fmt.Fprintf(stdout, "Wrote %s/%s and %s/%s.\n", f.out, study.JSONFile, f.out, study.HTMLFile)
	return nil
}
