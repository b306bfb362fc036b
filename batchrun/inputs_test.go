package batchrun

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// Folders are walked in lexical order for image files, by extension or by
// their first bytes; globs expand in lexical order; other names stay.
func TestExpand(t *testing.T) {
	dir := t.TempDir()
	sub := filepath.Join(dir, "b")
	os.MkdirAll(sub, 0o755)
	imgs := writeImages(t, sub, 3)
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("not an image"), 0o644)
	png, _ := os.ReadFile(imgs[0])
	noExt := filepath.Join(dir, "a-photo")
	os.WriteFile(noExt, png, 0o644)
	os.WriteFile(filepath.Join(dir, "c.JPG"), []byte("named as one"), 0o644)

	for _, tc := range []struct {
		arg  string
		want []string
	}{
		{dir, []string{noExt, imgs[0], imgs[1], imgs[2], filepath.Join(dir, "c.JPG")}},
		{filepath.Join(sub, "00[02].png"), []string{imgs[0], imgs[2]}},
		{filepath.Join(dir, "*"), []string{noExt, imgs[0], imgs[1], imgs[2], filepath.Join(dir, "c.JPG"), filepath.Join(dir, "notes.txt")}},
		{filepath.Join(dir, "missing.png"), []string{filepath.Join(dir, "missing.png")}},
	} {
		got, err := Expand(tc.arg)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("Expand(%s) = %q, %v; want %q", tc.arg, got, err, tc.want)
		}
	}
	empty := filepath.Join(dir, "empty")
	os.MkdirAll(empty, 0o755)
	for arg, want := range map[string]string{
		empty:                       "without images",
		filepath.Join(dir, "*.gif"): "matches no files",
		filepath.Join(dir, "[.png"): "bad glob",
	} {
		if _, err := Expand(arg); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Expand(%s): %v, want an error saying %q", arg, err, want)
		}
	}
}

func TestReadList(t *testing.T) {
	got, err := ReadList(strings.NewReader("a.png\r\n\n  \nsub/b c.jpg\n/abs/d.png"), "list")
	if want := []string{"a.png", "sub/b c.jpg", "/abs/d.png"}; err != nil || !slices.Equal(got, want) {
		t.Fatalf("ReadList = %q, %v; want %q", got, err, want)
	}
	for in, want := range map[string]string{
		"":                                       "list names no files",
		"\n\n":                                   "list names no files",
		"a\nb\x00c\n":                            "line 2 holds a NUL byte",
		"a\n" + strings.Repeat("x", 5000) + "\n": "line 2 is longer than 4096 bytes",
		strings.Repeat("y", 1<<17):               "line 1 is longer",
	} {
		if _, err := ReadList(strings.NewReader(in), "list"); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ReadList(%.20q…): %v, want an error saying %q", in, err, want)
		}
	}
}
