package batchrun

import (
	"bytes"
	"strings"
	"testing"
)

// ReadList takes any bytes: a list of paths (none empty, none holding a
// NUL byte or a line break, none over MaxListLine bytes) or an error.
func FuzzReadList(f *testing.F) {
	f.Add([]byte("a.png\nb/c.jpg\r\n\n"))
	f.Add([]byte("x\x00y"))
	f.Add(bytes.Repeat([]byte("z"), MaxListLine+3))
	f.Fuzz(func(t *testing.T, b []byte) {
		files, err := ReadList(bytes.NewReader(b), "fuzz")
		if err != nil {
			return
		}
		if len(files) == 0 {
			t.Fatal("no files and no error")
		}
		for _, p := range files {
			if strings.TrimSpace(p) == "" || strings.ContainsAny(p, "\x00\n") || len(p) > MaxListLine+1 {
				t.Fatalf("path %q", p)
			}
		}
	})
}

// The files of a folder of shards read back (manifests, run.json) are
// checked: a manifest or header parsed from any bytes has names a rerun
// can use, or is an error.
func FuzzParseManifest(f *testing.F) {
	f.Add([]byte(`{"shard": 3, "data": "embeddings-00003.jsonl", "files": ["a.png"], "errors": "errors-00003.jsonl", "failed": ["b.png"]}`))
	f.Add([]byte(`{"shard": -1, "data": ""}`))
	f.Add([]byte(`{"vit_batchrun": 1, "task": "embed", "format": "jsonl", "shard_size": 10, "model": "m", "weights_sha256": "ab"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if m, err := parseManifest(b); err == nil {
			if m.Shard < 0 || m.Data == "" {
				t.Fatalf("manifest %+v", m)
			}
			for _, f := range append(m.Files, m.Failed...) {
				if f == "" || strings.ContainsRune(f, 0) {
					t.Fatalf("file %q", f)
				}
			}
		}
		if h, err := parseHeader(b); err == nil && (h.ShardSize < 1 || h.Weights == "") {
			t.Fatalf("header %+v", h)
		}
	})
}
