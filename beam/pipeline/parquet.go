package pipeline

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/xitongsys/parquet-go/writer"

	"github.com/vitgo/vit/batchrun"
)

// EmbeddingRow is a row of an embeddings Parquet file: the image, its
// feature vector [dim] and the model (the --model path) that made it.
type EmbeddingRow struct {
	File     string    `parquet:"name=file, type=BYTE_ARRAY, convertedtype=UTF8"`
	Features []float32 `parquet:"name=features, type=LIST, valuetype=FLOAT"`
	Model    string    `parquet:"name=model, type=BYTE_ARRAY, convertedtype=UTF8"`
}

// PredictionRow is a row of a predictions Parquet file: the top classes
// as three lists of the same length, most probable first, and the raw
// logits [classes] when asked for (empty otherwise).
type PredictionRow struct {
	File     string    `parquet:"name=file, type=BYTE_ARRAY, convertedtype=UTF8"`
	TopIndex []int32   `parquet:"name=top_index, type=LIST, valuetype=INT32"`
	TopLabel []string  `parquet:"name=top_label, type=LIST, valuetype=BYTE_ARRAY, valueconvertedtype=UTF8"`
	TopProb  []float64 `parquet:"name=top_prob, type=LIST, valuetype=DOUBLE"`
	Logits   []float32 `parquet:"name=logits, type=LIST, valuetype=FLOAT"`
	Model    string    `parquet:"name=model, type=BYTE_ARRAY, convertedtype=UTF8"`
}

// parquetShard turns JSON lines (batchrun.Embedding or batchrun.Prediction)
// into rows of a Parquet file.
type parquetShard struct {
	pw    *writer.ParquetWriter
	task  string
	model string
}

func newParquetShard(w io.Writer, task, model string) (*parquetShard, error) {
	var schema any = new(EmbeddingRow)
	if task == "predict" {
		schema = new(PredictionRow)
	}
	pw, err := writer.NewParquetWriterFromWriter(w, schema, 1)
	if err != nil {
		return nil, fmt.Errorf("parquet: %w", err)
	}
	return &parquetShard{pw: pw, task: task, model: model}, nil
}

func (p *parquetShard) add(line []byte) error {
	var row any
	switch p.task {
	case "embed":
		var e batchrun.Embedding
		if err := json.Unmarshal(line, &e); err != nil {
			return err
		}
		row = EmbeddingRow{File: e.File, Features: e.Features, Model: p.model}
	case "predict":
		var pr batchrun.Prediction
		if err := json.Unmarshal(line, &pr); err != nil {
			return err
		}
		r := PredictionRow{File: pr.File, Logits: pr.Logits, Model: p.model}
		for _, c := range pr.Top {
			r.TopIndex = append(r.TopIndex, int32(c.Index))
			r.TopLabel = append(r.TopLabel, c.Label)
			r.TopProb = append(r.TopProb, c.Prob)
		}
		row = r
	default:
		return fmt.Errorf("parquet: no rows for task %q", p.task)
	}
	return p.pw.Write(row)
}

func (p *parquetShard) close() error {
	if err := p.pw.WriteStop(); err != nil {
		return fmt.Errorf("parquet: %w", err)
	}
	return nil
}
