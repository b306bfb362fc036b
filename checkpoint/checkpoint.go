// Package checkpoint saves and loads vit models.
//
// A model is a folder holding config.json (the vit.Config) and
// model.safetensors (every tensor under timm's names, float32). The
// safetensors file also carries the config in its metadata under
// "vit_config", so the file alone is enough to rebuild the model. Files are
// written to a temporary name and renamed, so a crash never leaves a broken
// checkpoint behind.
//
// The package also reads the public pretrained ViT checkpoints (Hugging
// Face transformers folders, timm folders, the official JAX .npz files and
// big_vision's) with LoadPretrained or Load, writes Hugging Face and timm
// folders with SaveHF and SaveTimm, and adapts a model to a new image size
// with AdaptToImage, resampling its position embeddings by the convention
// of the ecosystem it came from (ResizePosEmbed).
package checkpoint

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync/atomic"

	"github.com/vitgo/vit"
	"github.com/vitgo/vit/internal/atomicfile"
	_ "github.com/vitgo/vit/resnet" // checkpoints of Config.Arch "resnet"
	"github.com/vitgo/vit/safetensors"
)

// File names inside a model folder.
const (
	ConfigFile  = "config.json"
	WeightsFile = "model.safetensors"
	configKey   = "vit_config"
)

// Save writes m (a *vit.Model, or another family's vit.Network) into dir
// (created if needed) as config.json and model.safetensors. Each file is replaced atomically, so a failed Save
// leaves an existing checkpoint in dir as it was, and removes dir if it
// created it.
func Save(dir string, m vit.Network) (err error) {
	if _, serr := os.Stat(dir); errors.Is(serr, fs.ErrNotExist) {
		defer func() {
			if err != nil {
				os.RemoveAll(dir)
			}
		}()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("saving %s: %w", dir, err)
	}
	cfg, err := json.MarshalIndent(m.Spec(), "", "  ")
	if err != nil {
		return err
	}
	var tensors []safetensors.Tensor
	for _, p := range m.Params() {
		tensors = append(tensors, safetensors.Tensor{Name: p.Name, Shape: p.Shape, Data: p.Data})
	}
	meta := map[string]string{configKey: string(cfg), "format": "vit"}
	if err := safetensors.WriteFile(filepath.Join(dir, WeightsFile), tensors, meta); err != nil {
		return fmt.Errorf("saving %s: %w", dir, err)
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, ConfigFile), func(w io.Writer) error {
		_, err := w.Write(append(cfg, '\n'))
		return err
	}, 0o644); err != nil {
		return fmt.Errorf("saving %s: %w", dir, err)
	}
	return nil
}

// RunStateFile marks a training run folder (vit train --out); its
// "checkpoint" field names the subfolder holding the latest model.
const RunStateFile = "state.json"

// Load reads a model from path, detecting its format: a folder written by
// Save, its model.safetensors file or a training run folder (its latest
// checkpoint); a Hugging Face ViT folder (config.json and model.safetensors,
// possibly sharded); a timm folder or safetensors file; or an official JAX
// .npz (google-research/vision_transformer or big_vision). See
// LoadPretrained for what each format maps to. A checkpoint without a
// classifier loads with a head of zeros (LoadPretrained says so in its
// Notes).
func Load(path string) (*vit.Model, error) {
	return LoadContext(context.Background(), path)
}

// LoadContext is Load that stops, with an error wrapping ctx.Err(), when
// ctx is done before the last tensor is read.
func LoadContext(ctx context.Context, path string) (*vit.Model, error) {
	p, err := LoadPretrainedContext(ctx, path)
	if err != nil {
		return nil, err
	}
	return p.Model, nil
}

// LoadNetwork is Load for a network of any family (vit.Config.Arch): a
// folder written by Save, its model.safetensors or a training run folder
// holding a ResNet loads as a resnet.Model; everything else as Load does.
func LoadNetwork(path string) (vit.Network, error) {
	return LoadNetworkContext(context.Background(), path)
}

// LoadNetworkContext is LoadNetwork that stops, with an error wrapping
// ctx.Err(), when ctx is done before the last tensor is read.
func LoadNetworkContext(ctx context.Context, path string) (vit.Network, error) {
	if format, err := Detect(path); err != nil {
		return nil, err
	} else if format != FormatVit {
		return LoadContext(ctx, path)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("loading %s: %w", path, err)
	}
	return loadNetwork(ctx, path)
}

// runCheckpoint returns the latest checkpoint folder of the training run
// folder dir, as its state.json names it; "" when dir holds no state.json
// (it is no run folder). A state.json that cannot be read, or that names no
// checkpoint inside dir, is an error naming the file.
func runCheckpoint(dir string) (string, error) {
	file := filepath.Join(dir, RunStateFile)
	b, err := readConfig(file)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("loading model: %w", err)
	}
	var run struct {
		Checkpoint string `json:"checkpoint"`
	}
	if err := json.Unmarshal(b, &run); err != nil {
		return "", fmt.Errorf("loading model: %s is corrupt (%v): load one of the run's checkpoint folders (%s) instead", file, err, filepath.Join(dir, "ckpt-*"))
	}
	if run.Checkpoint == "" || !filepath.IsLocal(run.Checkpoint) {
		return "", fmt.Errorf("loading model: %s names no checkpoint folder inside the run (%q): load one of the run's checkpoint folders (%s) instead", file, run.Checkpoint, filepath.Join(dir, "ckpt-*"))
	}
	return filepath.Join(dir, run.Checkpoint), nil
}

// loadVit reads a ViT saved by Save; another family's network is an error
// that says where to load it.
func loadVit(ctx context.Context, path string) (*vit.Model, error) {
	n, err := loadNetwork(ctx, path)
	if err != nil {
		return nil, err
	}
	m, ok := n.(*vit.Model)
	if !ok {
		return nil, fmt.Errorf("loading model %s: it is a %s, which this command cannot use (vit train, eval, info and bench take it)", path, n.Spec().Arch)
	}
	return m, nil
}

// loadNetwork reads a network of any family saved by Save.
func loadNetwork(ctx context.Context, path string) (vit.Network, error) {
	weights, ckpt := path, ""
	if st, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("loading model: %w", err)
	} else if st.IsDir() {
		weights = filepath.Join(path, WeightsFile)
		if ckpt, err = runCheckpoint(path); err != nil {
			return nil, err
		} else if ckpt != "" {
			weights = filepath.Join(ckpt, WeightsFile)
		}
	}
	f, err := safetensors.Open(weights)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) && ckpt != "" {
			return nil, fmt.Errorf("loading model: the run folder %s names the checkpoint %s, which has no %s", path, ckpt, WeightsFile)
		}
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("loading model: %s has no %s (is it a vit model folder?)", path, WeightsFile)
		}
		return nil, fmt.Errorf("loading model %s: %w", weights, err)
	}
	keep := false // the model's tensors alias f's mapping
	defer func() {
		if !keep {
			f.Close()
		}
	}()
	var c vit.Config
	raw, ok := f.Metadata()[configKey]
	if !ok {
		// Fall back to config.json beside the weights.
		b, err := readConfig(filepath.Join(filepath.Dir(weights), ConfigFile))
		if err != nil {
			return nil, fmt.Errorf("loading model %s: no vit config in its metadata and no readable %s beside it", weights, ConfigFile)
		}
		raw = string(b)
	}
	if err := json.Unmarshal([]byte(raw), &c); err != nil {
		return nil, fmt.Errorf("loading model %s: bad config: %w", weights, err)
	}
	have := storedValues(f.Names(), func(n string) []int { _, sh, _ := f.Info(n); return sh })
	if err := fitsWeights(c, have, fmt.Sprintf("loading model %s: its config", weights)); err != nil {
		return nil, err
	}
	m, err := vit.ZeroNetwork(c)
	if err != nil {
		return nil, fmt.Errorf("loading model %s: %w", weights, err)
	}
	aliased, err := loadWeights(ctx, m, f, weights, true)
	if err != nil {
		return nil, err
	}
	if aliased > 0 {
		// The weights live in the file's private mapping: no copy is made,
		// pages load on first use and stay shared with the page cache until
		// written (training copies a page on its first write; the file never
		// changes). Unmap when the last aliasing tensor is unreachable.
		keep = true
		left := new(atomic.Int32)
		left.Store(int32(aliased))
		for _, p := range m.Params() {
			if p.Aliased {
				runtime.AddCleanup(p, func(f *safetensors.File) {
					if left.Add(-1) == 0 {
						f.Close()
					}
				}, f)
			}
		}
	}
	return m, nil
}

// LoadWeights copies every tensor of m from f, checking names and shapes.
// Unknown or missing tensors are errors that name them.
func LoadWeights(m *vit.Model, f *safetensors.File, path string) error {
	_, err := loadWeights(context.Background(), m, f, path, false)
	return err
}

// loadWeights is LoadWeights, checking ctx before each tensor; with alias, float32 tensors that f can map
// directly become the parameters' Data (marked Aliased) instead of being
// copied, and it returns how many did.
func loadWeights(ctx context.Context, m vit.Network, f *safetensors.File, path string, alias bool) (aliased int, err error) {
	want := map[string]bool{}
	for _, p := range m.Params() {
		if err := ctx.Err(); err != nil {
			return 0, fmt.Errorf("loading %s: %w", path, err)
		}
		want[p.Name] = true
		dtype, shape, ok := f.Info(p.Name)
		if !ok {
			return 0, fmt.Errorf("checkpoint %s: tensor %q is missing", path, p.Name)
		}
		if !slices.Equal(shape, p.Shape) {
			return 0, fmt.Errorf("checkpoint %s: tensor %q has shape %v, the model expects %v", path, p.Name, shape, p.Shape)
		}
		if v, ok := f.F32View(p.Name); alias && ok && len(v) == len(p.Data) {
			p.Data, p.Aliased = v, true
			aliased++
			continue
		}
		data, _, err := f.Float32(p.Name)
		if err != nil {
			return 0, fmt.Errorf("checkpoint %s: tensor %q (%s): %w", path, p.Name, dtype, err)
		}
		copy(p.Data, data)
	}
	for _, name := range f.Names() {
		if !want[name] {
			return 0, fmt.Errorf("checkpoint %s: unexpected tensor %q (the config does not describe this model)", path, name)
		}
	}
	return aliased, nil
}
