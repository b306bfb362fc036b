package pipeline

import (
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"sync"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem"

	"github.com/vitgo/vit"
	"github.com/vitgo/vit/checkpoint"
	"github.com/vitgo/vit/kernels"
)

// models holds the models of this process, one per (path, dtype): every
// DoFn instance of a worker shares it (vit.Model is safe for concurrent
// use), so a worker loads the weights once however many bundles it runs.
var models sync.Map // modelKey → *sharedModel

type modelKey struct{ path, dtype string }

type sharedModel struct {
	once sync.Once
	m    *vit.Model
	err  error
}

// LoadModel returns the model at path with its weights packed for dtype,
// loading it on the first call of this process and sharing it after. A
// path on a Beam file system other than the local one is copied into a
// local temporary folder first (see fetchModel); a local model in vit's
// format is memory-mapped, not read.
func LoadModel(ctx context.Context, path, dtype string) (*vit.Model, error) {
	v, _ := models.LoadOrStore(modelKey{path, dtype}, &sharedModel{})
	sm := v.(*sharedModel)
	sm.once.Do(func() { sm.m, sm.err = loadModel(ctx, path, dtype) })
	return sm.m, sm.err
}

func loadModel(ctx context.Context, path, dtype string) (*vit.Model, error) {
	dt, err := kernels.ParseDType(dtype)
	if err != nil {
		return nil, err
	}
	local, err := fetchModel(ctx, path)
	if err != nil {
		return nil, err
	}
	m, err := checkpoint.LoadContext(ctx, local)
	if err != nil {
		return nil, err
	}
	m.PackWeights(dt)
	return m, nil
}

// isLocal says whether path is on the local file system: no scheme://.
func isLocal(path string) bool { return !strings.Contains(path, "://") }

// modelFileExts are the single-file checkpoints: anything else is a
// folder, whose files (not subfolders) are copied.
var modelFileExts = []string{".safetensors", ".npz", ".bin", ".pth", ".pt"}

// fetchModel returns a local path for the model at p: p itself when it is
// local, otherwise a temporary folder (kept for the life of the process)
// holding a copy of the file or of the folder's files.
func fetchModel(ctx context.Context, p string) (string, error) {
	if isLocal(p) {
		return p, nil
	}
	fs, err := filesystem.New(ctx, p)
	if err != nil {
		return "", err
	}
	defer fs.Close()
	dir, err := os.MkdirTemp("", "vit-beam-model-*")
	if err != nil {
		return "", err
	}
	for _, ext := range modelFileExts {
		if strings.HasSuffix(p, ext) {
			dst := dir + "/" + path.Base(p)
			return dst, copyFile(ctx, fs, p, dst)
		}
	}
	folder := strings.TrimSuffix(p, "/")
	files, err := fs.List(ctx, folder+"/*")
	if err != nil {
		return "", fmt.Errorf("--model %s: listing the folder: %w", p, err)
	}
	if len(files) == 0 {
		return "", fmt.Errorf("--model %s: no such model folder, or an empty one", p)
	}
	for _, f := range files {
		rel := strings.TrimPrefix(strings.TrimPrefix(f, folder), "/")
		if rel == "" || strings.Contains(rel, "/") {
			continue // the folder itself, or a file in a subfolder
		}
		if err := copyFile(ctx, fs, f, dir+"/"+rel); err != nil {
			return "", err
		}
	}
	return dir, nil
}

func copyFile(ctx context.Context, fs filesystem.Interface, src, dst string) error {
	r, err := fs.OpenRead(ctx, src)
	if err != nil {
		return fmt.Errorf("--model: reading %s: %w", src, err)
	}
	defer r.Close()
	w, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(w, r); err != nil {
		w.Close()
		return fmt.Errorf("--model: copying %s: %w", src, err)
	}
	return w.Close()
}
