package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/vitgo/vit/internal/atomicfile"
	"github.com/vitgo/vit/internal/console"
	"github.com/vitgo/vit/safetensors"
)

func runEmbed(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("embed", "--model PATH --out FILE IMAGE_OR_DIR...", stderr)
	model := fs.String("model", "", "model folder, .safetensors or .npz file, or training run folder")
	out := fs.String("out", "", "output: FILE.safetensors (tensor \"features\" [images, dim], file names in the metadata) or FILE.jsonl (one {\"file\", \"features\"} per line)")
	batch := fs.Int("batch", 16, "images per forward pass")
	dtypeFlag := fs.String("dtype", "fp32", "number format of the matrix products: fp32 or bf16")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 || *out == "" {
		fs.Usage()
		return errUsage
	}
	jsonl := strings.HasSuffix(*out, ".jsonl") || strings.HasSuffix(*out, ".json")
	if !jsonl && !strings.HasSuffix(*out, ".safetensors") {
		return fmt.Errorf("--out %s: use a .safetensors or .jsonl file name", *out)
	}
	m, err := loadModel(*model, "", 0)
	if err != nil {
		return err
	}
	if err := packWeights(m, *dtypeFlag, stderr); err != nil {
		return err
	}
	c := m.Config
	files, err := expandImages(fs.Args())
	if err != nil {
		return err
	}
	var names []string
	var feats []float32
	failed := 0
	con := console.NewWriter(stderr)
	bar := console.NewBar(con, len(files), "embedding")
	err = imageBatches(files, c, *batch, func(x []float32, batchNames []string) error {
		f, err := m.Features(x, len(batchNames))
		if err != nil {
			return err
		}
		feats = append(feats, f...)
		names = append(names, batchNames...)
		bar.Add(len(batchNames))
		return nil
	}, func(f string, err error) {
		con.Printf("vit embed: %v", err)
		bar.Add(1)
		failed++
	})
	bar.Finish()
	if err != nil {
		return err
	}
	if jsonl {
		err = atomicfile.WriteFile(*out, func(w io.Writer) error {
			enc := json.NewEncoder(w)
			for i, n := range names {
				if err := enc.Encode(map[string]any{"file": n, "features": feats[i*c.Dim : (i+1)*c.Dim]}); err != nil {
					return err
				}
			}
			return nil
		}, 0o644)
	} else {
		fileList, _ := json.Marshal(names)
		err = safetensors.WriteFile(*out, []safetensors.Tensor{{Name: "features", Shape: []int{len(names), c.Dim}, Data: feats}},
			map[string]string{"files": string(fileList), "pool": map[bool]string{true: "cls", false: "gap"}[c.ClassToken()]})
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%d embeddings of dimension %d written to %s\n", len(names), c.Dim, *out)
	if failed > 0 {
		return fmt.Errorf("%d of %d images could not be read", failed, len(files))
	}
	return nil
}
