package viz

import (
	"bytes"
	"image"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vitgo/vit/internal/fsfault"
)

// TestWritePNGWholeOrNothing overwrites a PNG while writes fail half-way
// (a file-size limit, which root obeys like a full disk): the old file
// must be left whole and no temporary file behind.
func TestWritePNGWholeOrNothing(t *testing.T) {
	if os.Getenv("VIT_TEST_CHILD") != t.Name() {
		// The limit holds for the whole process: run the test alone in a
		// child process.
		cmd := exec.Command(os.Args[0], "-test.run=^"+t.Name()+"$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), "VIT_TEST_CHILD="+t.Name())
		out, err := cmd.CombinedOutput()
		if err == nil && strings.Contains(string(out), "--- SKIP: "+t.Name()) {
			t.Skipf("skipped in the child process:\n%s", out)
		}
		if err != nil || !strings.Contains(string(out), "--- PASS: "+t.Name()) {
			t.Fatalf("the test in a child process: %v\n%s", err, out)
		}
		return
	}
	noise := func(seed uint32) image.Image {
		img := image.NewRGBA(image.Rect(0, 0, 128, 128))
		for i := range img.Pix {
			seed = seed*1664525 + 1013904223
			img.Pix[i] = uint8(seed >> 24)
		}
		return img
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "rollout.png")
	if err := WritePNG(path, noise(1)); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(path)
	lift := fsfault.LimitFileSize(t, 4096)
	err := WritePNG(path, noise(2))
	lift()
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("WritePNG with writes failing: %v, want an error naming %s", err, path)
	}
	after, _ := os.ReadFile(path)
	if !bytes.Equal(before, after) {
		t.Fatalf("a failed WritePNG changed the old file (%d bytes, now %d)", len(before), len(after))
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Fatalf("a failed WritePNG left %d files", len(ents))
	}
}
