// Command seeds trains one recipe with several seeds, each seed one
// uninterrupted `vit train` command into its own run folder, and prints each
// seed's validation and test accuracy and wall time, then their mean ± sd.
//
//	go run ./bench/seeds -recipe quick -n 3 [-- extra vit train flags]
//
// bench/seeds.sh RECIPE N [FLAGS...] builds vit and runs it. Arguments after
// the recipe and count (or after --) are passed to every `vit train`
// (for a smoke test: -- --steps 20). The runs go to
// runs/seeds-RECIPE-TIME/seed-S, each with its log seed-S.log beside it,
// and the table to summary.md and summary.json in the same folder. A seed
// whose run does not finish in its one command (killed, interrupted,
// failed) stops the whole measurement: nothing is resumed or spliced.
//
// The validation accuracy is on the run's validation split (held out of the
// training images, what recipes are chosen on); the test accuracy is the
// final model's, scored once at the end.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// result is one seed's run: the fields of `vit train --json` it reads, and
// the command's wall-clock time.
type result struct {
	Seed        uint64  `json:"seed"`
	Run         string  `json:"run"`
	Steps       int     `json:"steps"`
	Finished    bool    `json:"finished"`
	ValAccuracy float64 `json:"validation_accuracy"`
	ValImages   int     `json:"validation_images"`
	TestAcc     float64 `json:"test_accuracy"`
	TestImages  int     `json:"test_images"`
	TrainWallS  float64 `json:"train_wall_s"`   // training time vit reports
	CommandS    float64 `json:"command_wall_s"` // the whole command, data loading and evaluation included
}

func main() {
	log.SetFlags(0)
	log.SetPrefix("seeds: ")
	vitBin := flag.String("vit", "vit", "the vit binary to run")
	recipe := flag.String("recipe", "quick", "the recipe: default, quick or reference")
	n := flag.Int("n", 3, "number of seeds")
	first := flag.Uint64("first-seed", 1, "the first seed; the others follow it")
	out := flag.String("out", "", "folder for the run folders, logs and summary (default runs/seeds-RECIPE-TIME)")
	flag.Parse()
	if *n < 1 {
		log.Fatalf("-n %d: give at least one seed", *n)
	}
	extra := flag.Args()
	for _, a := range extra {
		if name := flagName(a); name == "seed" || name == "out" || name == "resume" || name == "recipe" || name == "json" {
			log.Fatalf("%s: seeds sets --seed, --out, --recipe and --json itself, and never resumes", a)
		}
	}
	dir := *out
	if dir == "" {
		dir = filepath.Join("runs", fmt.Sprintf("seeds-%s-%s", *recipe, time.Now().Format("20060102-150405")))
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		log.Fatal(err)
	}
	var results []result
	for i := range *n {
		seed := *first + uint64(i)
		r, err := runSeed(*vitBin, *recipe, seed, dir, extra)
		if err != nil {
			log.Fatalf("seed %d: %v", seed, err)
		}
		results = append(results, r)
		fmt.Fprintf(os.Stderr, "seed %d: validation %.2f%%, test %.2f%%, %s\n", seed, 100*r.ValAccuracy, 100*r.TestAcc, dur(r.CommandS))
	}
	table := summary(*recipe, extra, results)
	fmt.Print(table)
	if err := os.WriteFile(filepath.Join(dir, "summary.md"), []byte(table), 0o644); err != nil {
		log.Fatal(err)
	}
	b, _ := json.MarshalIndent(map[string]any{"recipe": *recipe, "flags": extra, "runs": results}, "", "  ")
	if err := os.WriteFile(filepath.Join(dir, "summary.json"), append(b, '\n'), 0o644); err != nil {
		log.Fatal(err)
	}
}

// flagName returns the name of a command-line flag argument ("--seed=3"
// gives "seed"), or "" for a value.
func flagName(a string) string {
	if !strings.HasPrefix(a, "-") {
		return ""
	}
	name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
	return name
}

// runSeed runs `vit train` for one seed in one command, its stderr going to
// dir/seed-S.log, and returns its result; a run that did not finish is an
// error.
func runSeed(vitBin, recipe string, seed uint64, dir string, extra []string) (result, error) {
	run := filepath.Join(dir, fmt.Sprintf("seed-%d", seed))
	if _, err := os.Stat(run); err == nil {
		return result{}, fmt.Errorf("%s exists: every seed trains from scratch in a new folder (pass -out)", run)
	}
	logPath := filepath.Join(dir, fmt.Sprintf("seed-%d.log", seed))
	logFile, err := os.Create(logPath)
	if err != nil {
		return result{}, err
	}
	defer logFile.Close()
	args := append([]string{"train", "--recipe", recipe, "--seed", fmt.Sprint(seed), "--out", run, "--json"}, extra...)
	fmt.Fprintf(logFile, "$ %s %s\n", vitBin, strings.Join(args, " "))
	cmd := exec.Command(vitBin, args...)
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = io.MultiWriter(logFile, prefixWriter{os.Stderr, fmt.Sprintf("[seed %d] ", seed)})
	start := time.Now()
	err = cmd.Run()
	wall := time.Since(start).Seconds()
	if err != nil {
		return result{}, fmt.Errorf("vit train: %v (log: %s)", err, logPath)
	}
	var out struct {
		Run      string  `json:"run"`
		Steps    int     `json:"steps"`
		Finished bool    `json:"finished"`
		ValAcc   float64 `json:"validation_accuracy"`
		TestAcc  float64 `json:"test_accuracy"`
		WallS    float64 `json:"wall_s"`
		Split    struct {
			Validation int `json:"validation"`
			TestImages int `json:"test_images"`
		} `json:"split"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		return result{}, fmt.Errorf("reading vit train --json output %q: %v", stdout.String(), err)
	}
	if !out.Finished {
		return result{}, fmt.Errorf("the run stopped after %d steps without finishing (log: %s)", out.Steps, logPath)
	}
	return result{Seed: seed, Run: out.Run, Steps: out.Steps, Finished: true, ValAccuracy: out.ValAcc, ValImages: out.Split.Validation,
		TestAcc: out.TestAcc, TestImages: out.Split.TestImages, TrainWallS: out.WallS, CommandS: wall}, nil
}

// summary is a Markdown table of the runs and their mean ± sd.
func summary(recipe string, extra []string, rs []result) string {
	var b strings.Builder
	cmd := "vit train --recipe " + recipe + " --seed S"
	if len(extra) > 0 {
		cmd += " " + strings.Join(extra, " ")
	}
	fmt.Fprintf(&b, "`%s`, %d seeds, each one uninterrupted command:\n\n", cmd, len(rs))
	fmt.Fprintf(&b, "| seed | steps | validation accuracy (%d images) | test accuracy (%d images) | training time | command time |\n",
		rs[0].ValImages, rs[0].TestImages)
	b.WriteString("|---:|---:|---:|---:|---:|---:|\n")
	var val, test, train, command []float64
	for _, r := range rs {
		fmt.Fprintf(&b, "| %d | %d | %.2f%% | %.2f%% | %s | %s |\n", r.Seed, r.Steps, 100*r.ValAccuracy, 100*r.TestAcc, dur(r.TrainWallS), dur(r.CommandS))
		val, test = append(val, 100*r.ValAccuracy), append(test, 100*r.TestAcc)
		train, command = append(train, r.TrainWallS), append(command, r.CommandS)
	}
	vm, vs := meanSD(val)
	tm, ts := meanSD(test)
	wm, ws := meanSD(train)
	cm, cs := meanSD(command)
	fmt.Fprintf(&b, "| mean ± sd | | %.2f ± %.2f%% | %.2f ± %.2f%% | %s ± %s | %s ± %s |\n", vm, vs, tm, ts, dur(wm), dur(ws), dur(cm), dur(cs))
	return b.String()
}

// meanSD returns the mean and the sample standard deviation (n − 1) of x;
// the deviation of one value is 0.
func meanSD(x []float64) (mean, sd float64) {
	for _, v := range x {
		mean += v
	}
	mean /= float64(len(x))
	if len(x) < 2 {
		return mean, 0
	}
	for _, v := range x {
		sd += (v - mean) * (v - mean)
	}
	return mean, math.Sqrt(sd / float64(len(x)-1))
}

func dur(s float64) string {
	return time.Duration(s * float64(time.Second)).Round(time.Second).String()
}

// prefixWriter writes to w, starting each line with prefix.
type prefixWriter struct {
	w      io.Writer
	prefix string
}

func (p prefixWriter) Write(b []byte) (int, error) {
	s := strings.ReplaceAll(strings.TrimSuffix(string(b), "\n"), "\n", "\n"+p.prefix)
	_, err := fmt.Fprintf(p.w, "%s%s\n", p.prefix, s)
	return len(b), err
}
