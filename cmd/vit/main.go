// Command vit trains, evaluates, benchmarks and describes Vision
// Transformers. Run "vit help" for the commands and "vit COMMAND --help"
// for each one's flags. Progress goes to stderr, results to stdout.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"

	"github.com/vitgo/vit/internal/console"
)

type command struct {
	summary string
	run     func(args []string, stdout, stderr io.Writer) error
}

var commands = map[string]command{
	"train":     {"train a model (default: the reference small ViT on Fashion-MNIST)", runTrain},
	"eval":      {"accuracy, per-class accuracy and confusion matrix of a model on a test set", runEval},
	"info":      {"parameters, FLOPs per image and activation memory of a model", runInfo},
	"bench":     {"measure training or inference throughput", runBench},
	"predict":   {"classify images with a model: top classes and probabilities", runPredict},
	"embed":     {"pre-head features of images, for search and clustering", runEmbed},
	"fewshot":   {"the paper's few-shot linear evaluation of frozen features", runFewshot},
	"convert":   {"convert a checkpoint between formats (vit, Hugging Face, timm, JAX .npz) and adapt it to a new image size", runConvert},
	"finetune":  {"fine-tune a pre-trained model on new data, at a new resolution (the paper's transfer recipe)", runFinetune},
	"attention": {"attention rollout and gradient-weighted rollout heat maps of images", runAttention},
	"report":    {"the paper's figures for a model (rollout, embedding PCA, position similarity, attention distance, training curves) as one HTML report", runReport},
}

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// errUsage marks an error already explained by a usage message.
var errUsage = errors.New("usage")

func run(args []string, stdout, stderr io.Writer) int {
	con := console.NewWriter(stderr) // messages start on a fresh line, after any progress bar
	defer slog.SetDefault(slog.Default())
	slog.SetDefault(slog.New(console.NewHandler(con, "vit", slog.LevelInfo)))
	stderr = con
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "vit: unknown command %q\n\n", args[0])
		usage(stderr)
		return 2
	}
	if err := cmd.run(args[1:], stdout, stderr); err != nil {
		switch {
		case errors.Is(err, flag.ErrHelp):
			return 0
		case errors.Is(err, errUsage):
			return 2
		}
		con.Printf("vit %s: %v", args[0], err)
		return 1
	}
	return 0
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "vit: Vision Transformers in pure Go")
	fmt.Fprintln(w, "\nUsage: vit COMMAND [flags]\n\nCommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-8s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nRun 'vit COMMAND --help' for a command's flags.")
}

// newFlags returns a flag set that prints its usage to stderr and returns
// errors instead of exiting.
func newFlags(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("vit "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: vit %s %s\n\nFlags:\n", name, synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses args, mapping a bad flag to errUsage (already printed).
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	return nil
}
