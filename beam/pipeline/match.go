package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/vitgo/vit/batchrun"
)

func init() {
	register.DoFn4x1[context.Context, string, func(string), func([]byte), error](&matchFn{})
	register.Emitter1[string]()
	register.Emitter1[[]byte]()
}

// matchFn expands a pattern into the paths it matches. A line of an input
// list that is empty or starts with # is skipped; a plain path (no *, ? or
// [) is passed on as it is, to be read, or reported, by inferFn; a pattern
// that matches nothing is a failure record naming the pattern.
type matchFn struct{}

func (matchFn) ProcessElement(ctx context.Context, pattern string, emit func(string), fail func([]byte)) error {
	pattern = strings.TrimSpace(pattern)
	if pattern == "" || strings.HasPrefix(pattern, "#") {
		return nil
	}
	if !strings.ContainsAny(pattern, "*?[") {
		emit(pattern)
		return nil
	}
	fs, err := filesystem.New(ctx, pattern)
	if err != nil {
		return err // a scheme this binary does not link: nothing of it can be read
	}
	defer fs.Close()
	files, err := fs.List(ctx, pattern)
	if err != nil {
		return fmt.Errorf("listing %s: %w", pattern, err)
	}
	if len(files) == 0 {
		imagesFailed.Inc(ctx, 1)
		b, err := line(batchrun.Failure{File: pattern, Error: "no file matches the pattern"})
		if err != nil {
			return err
		}
		fail(b)
	}
	for _, f := range files {
		emit(f)
	}
	return nil
}

// line is v as one JSON line, as encoding/json's Encoder writes it (an
// error for a NaN or infinite number, which JSON cannot hold).
func line(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}
