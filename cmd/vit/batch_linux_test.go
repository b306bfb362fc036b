package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// vit embed killed with SIGKILL after its second shard, while its third
// waits on an image that does not come (a named pipe), keeps the two
// shards; run again, it does the rest, and the folder then holds what an
// uninterrupted run writes, byte for byte.
func TestEmbedKilledResumes(t *testing.T) {
	dir := t.TempDir()
	model := saveFashionModel(t)
	imgs := fashionPNGs(t, dir, 40)
	pipe := filepath.Join(dir, "pipe.png")
	if err := syscall.Mkfifo(pipe, 0o600); err != nil {
		t.Skip("no named pipes here:", err)
	}
	bad := filepath.Join(dir, "bad.png")
	os.WriteFile(bad, []byte("no image"), 0o644)
	list := filepath.Join(dir, "list.txt")
	os.WriteFile(list, []byte(strings.Join(slices.Concat(imgs[:25], []string{pipe, bad}, imgs[25:]), "\n")), 0o644)
	// feed writes an image into the pipe once the run opens it.
	image, _ := os.ReadFile(imgs[0])
	feed := func() {
		go func() {
			f, err := os.OpenFile(pipe, os.O_WRONLY, 0)
			if err == nil {
				f.Write(image)
				f.Close()
			}
		}()
	}
	embed := func(out string) []string {
		return []string{"embed", "--model", model, "--out", out, "--list", list, "--shard-size", "10", "--batch", "4", "--workers", "2"}
	}

	whole := filepath.Join(dir, "whole")
	feed()
	if code, _, se := runVit(nil, embed(whole)...); code != 1 || !strings.Contains(se, "1 of 42 images could not be read") {
		t.Fatalf("uninterrupted run: exit %d, %s", code, se)
	}

	split := filepath.Join(dir, "split")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childArgs+"="+strings.Join(embed(split), "\x1f"))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	deadline := time.After(2 * time.Minute)
	for {
		select {
		case err := <-done:
			t.Fatalf("the run ended (%v) before it was killed:\n%s", err, out.Bytes())
		case <-deadline:
			cmd.Process.Kill()
			t.Fatalf("no second manifest after 2 minutes:\n%s", out.Bytes())
		case <-time.After(5 * time.Millisecond):
		}
		if _, err := os.Stat(filepath.Join(split, "manifest-00001.json")); err == nil {
			break
		}
	}
	time.Sleep(50 * time.Millisecond) // the run waits on the pipe
	cmd.Process.Kill()                // SIGKILL
	<-done
	if _, err := os.Stat(filepath.Join(split, "manifest-00002.json")); err == nil {
		t.Fatal("the killed run finished its third shard without the image in the pipe")
	}

	feed()
	code, so, se := runVit(nil, embed(split)...)
	if code != 1 || !strings.Contains(se, "20 images already done in "+split+"; running the other 22") || !strings.Contains(so, "21 embeddings") {
		t.Fatalf("resumed run: exit %d, stdout %q, stderr %q", code, so, se)
	}
	ea, _ := os.ReadDir(whole)
	eb, _ := os.ReadDir(split)
	if len(ea) != len(eb) || len(ea) != 1+5+5+1 {
		t.Fatalf("%d files in the uninterrupted run's folder, %d in the resumed one's; want 12", len(ea), len(eb))
	}
	for i := range ea {
		a, _ := os.ReadFile(filepath.Join(whole, ea[i].Name()))
		b, _ := os.ReadFile(filepath.Join(split, eb[i].Name()))
		if ea[i].Name() != eb[i].Name() || !bytes.Equal(a, b) {
			t.Fatalf("%s (uninterrupted) and %s (resumed) differ", ea[i].Name(), eb[i].Name())
		}
	}
}
