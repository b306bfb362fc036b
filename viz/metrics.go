package viz

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
)

// StepRecord is a "step" line of a training run's metrics.jsonl.
type StepRecord struct {
	Step       int     `json:"step"` // 1-based optimizer step
	Epoch      int     `json:"epoch"`
	Loss       float64 `json:"loss"`
	Accuracy   float64 `json:"accuracy"`
	LR         float64 `json:"lr"`
	GradNorm   float64 `json:"grad_norm"`
	ImagesPerS float64 `json:"images_per_s"`
}

// EpochRecord is an "epoch" line of a training run's metrics.jsonl.
type EpochRecord struct {
	Epoch         int     `json:"epoch"` // 0-based
	Step          int     `json:"step"`
	TrainLoss     float64 `json:"train_loss"`
	TrainAccuracy float64 `json:"train_accuracy"`
	// ValLoss and ValAccuracy score the run's validation split (logs
	// since validation splits); ValImages is 0 in older logs, which scored
	// the test set after every epoch (TestLoss, TestAccuracy).
	ValLoss      float64 `json:"val_loss"`
	ValAccuracy  float64 `json:"val_accuracy"`
	ValImages    int     `json:"val_images"`
	TestLoss     float64 `json:"test_loss"`
	TestAccuracy float64 `json:"test_accuracy"`
}

// HeldOut returns the per-epoch score of the record: on the validation
// split, or on the test set in logs older than validation splits, and
// which of the two it is ("validation" or "test").
func (r EpochRecord) HeldOut() (loss, accuracy float64, name string) {
	if r.ValImages > 0 {
		return r.ValLoss, r.ValAccuracy, "validation"
	}
	return r.TestLoss, r.TestAccuracy, "test"
}

// RunMetrics is the metrics log of a training run, sorted by step.
type RunMetrics struct {
	Steps  []StepRecord  `json:"steps"`
	Epochs []EpochRecord `json:"epochs"`
	// Skipped counts the lines that are not records (not a JSON object, or
	// a step or epoch record with fields of the wrong type); FirstSkipped
	// is the 1-based number of the first of them, 0 when none is.
	Skipped      int `json:"skipped,omitempty"`
	FirstSkipped int `json:"first_skipped,omitempty"`
}

// MetricsFile is the metrics log's name inside a run folder.
const MetricsFile = "metrics.jsonl"

// ReadMetrics reads the metrics log of a training run: path is the run
// folder or the metrics.jsonl file itself. A step or epoch logged twice (a
// run resumed from an earlier checkpoint) keeps its last record; lines that
// are not records (such as a line cut short by a crash) are skipped and
// counted in Skipped.
func ReadMetrics(path string) (*RunMetrics, error) {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		path = filepath.Join(path, MetricsFile)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	steps := map[int]StepRecord{}
	epochs := map[int]EpochRecord{}
	m := &RunMetrics{}
	skip := func(n int) {
		if m.Skipped == 0 {
			m.FirstSkipped = n
		}
		m.Skipped++
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for n := 1; sc.Scan(); n++ {
		var kind struct {
			Type string `json:"type"`
		}
		line := sc.Bytes()
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		if json.Unmarshal(line, &kind) != nil {
			skip(n)
			continue
		}
		switch kind.Type {
		case "": // null, a number, or an object that is no record
			skip(n)
		case "step":
			var r StepRecord
			if json.Unmarshal(line, &r) != nil {
				skip(n)
				continue
			}
			steps[r.Step] = r
		case "epoch":
			var r EpochRecord
			if json.Unmarshal(line, &r) != nil {
				skip(n)
				continue
			}
			epochs[r.Epoch] = r
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	for _, r := range steps {
		m.Steps = append(m.Steps, r)
	}
	for _, r := range epochs {
		m.Epochs = append(m.Epochs, r)
	}
	sort.Slice(m.Steps, func(i, j int) bool { return m.Steps[i].Step < m.Steps[j].Step })
	sort.Slice(m.Epochs, func(i, j int) bool { return m.Epochs[i].Epoch < m.Epochs[j].Epoch })
	return m, nil
}
