package pipeline

import (
	"context"
	"fmt"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/metrics"
)

// Summary is what a finished run's metrics say.
type Summary struct {
	Images   int64 // images run through the model (records written)
	Failures int64 // images, paths or patterns in the dead-letter output
	Bytes    int64 // encoded image bytes read
	Misfits  int64 // images that do not look like what the model takes
}

// Summarize adds up the pipeline's counters (namespace "vit") over every
// step that reported them.
func Summarize(r metrics.Results) Summary {
	var s Summary
	for _, c := range r.AllMetrics().Counters() {
		if c.Namespace() != "vit" {
			continue
		}
		switch c.Name() {
		case "images":
			s.Images += c.Result()
		case "failures":
			s.Failures += c.Result()
		case "bytes":
			s.Bytes += c.Result()
		case "misfits":
			s.Misfits += c.Result()
		}
	}
	return s
}

// CheckModel loads a local model before the pipeline is built, so that a
// wrong --model or a --batch too large for memory is one line at once
// rather than a failed job; the model stays loaded for a worker of this
// process (Prism's). A model on another file system is checked by the
// workers.
func CheckModel(ctx context.Context, o Options) error {
	if !isLocal(o.Model) {
		return nil
	}
	m, err := LoadModel(ctx, o.Model, o.DType)
	if err != nil {
		return err
	}
	if err := m.Config.CheckMemory(o.Batch, false); err != nil {
		return fmt.Errorf("%w (--batch)", err)
	}
	if o.Task == "predict" {
		if err := m.Config.CheckHead(); err != nil {
			return fmt.Errorf("--task predict: %w", err)
		}
	}
	return nil
}
