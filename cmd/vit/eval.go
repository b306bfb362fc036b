package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/vitgo/vit/checkpoint"
	"github.com/vitgo/vit/data"
	"github.com/vitgo/vit/train"
)

func runEval(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("eval", "--model PATH [--data DIR] [--json]", stderr)
	model := fs.String("model", "", "model folder, model.safetensors file, or training run folder")
	dataSpec := fs.String("data", "", "dataset whose test split to use (as for vit train)")
	batch := fs.Int("batch", 256, "batch size")
	jsonOut := fs.Bool("json", false, "print the metrics as JSON")
	attention := fs.String("attention", "", "run with this attention instead of the model's own: softmax or performer")
	features := fs.Int("features", 0, "Performer random features per head, with --attention performer")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *model == "" {
		fs.Usage()
		return errUsage
	}
	m, err := checkpoint.Load(*model)
	if err != nil {
		return err
	}
	if *attention != "" {
		if err := m.SetAttention(*attention, *features, 1); err != nil {
			return err
		}
	}
	_, test, err := data.Open(*dataSpec)
	if err != nil {
		return err
	}
	ev, err := train.Evaluate(m, test, *batch)
	if err != nil {
		return err
	}
	if *jsonOut {
		return json.NewEncoder(stdout).Encode(struct {
			Dataset string `json:"dataset"`
			train.Metrics
		}{test.Name, ev})
	}
	fmt.Fprintf(stdout, "%s: %d images, accuracy %.2f%%, loss %.4f\n\nper class:\n", test.Name, ev.N, 100*ev.Accuracy, ev.Loss)
	for i, a := range ev.PerClass {
		fmt.Fprintf(stdout, "  %2d %-14s %6.2f%%\n", i, label(ev.Classes, i), 100*a)
	}
	fmt.Fprintf(stdout, "\nconfusion matrix (rows: true class, columns: predicted):\n     ")
	for j := range ev.Confusion {
		fmt.Fprintf(stdout, "%6d", j)
	}
	fmt.Fprintln(stdout)
	for i, row := range ev.Confusion {
		fmt.Fprintf(stdout, "  %2d ", i)
		for _, v := range row {
			fmt.Fprintf(stdout, "%6d", v)
		}
		fmt.Fprintln(stdout)
	}
	return nil
}

func label(names []string, i int) string {
	if i < len(names) {
		return names[i]
	}
	return fmt.Sprint(i)
}
