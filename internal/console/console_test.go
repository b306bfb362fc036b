package console

import (
	"log/slog"
	"strings"
	"testing"
)

// A message after a bar's open line starts on a fresh line.
func TestFreshLine(t *testing.T) {
	var out strings.Builder
	w := NewWriter(&out)
	w.Write([]byte("\rembedded 3 of 9 images"))
	w.Println("vit embed: disk full")
	w.Write([]byte("\r[===] 4/9\r")) // a cleared bar leaves the line free
	w.Printf("done %d", 9)
	want := "\rembedded 3 of 9 images\nvit embed: disk full\n\r[===] 4/9\rdone 9\n"
	if out.String() != want {
		t.Fatalf("got %q, want %q", out.String(), want)
	}
}

// Off a terminal a bar prints a plain line at every tenth of the job.
func TestBarPlain(t *testing.T) {
	var out strings.Builder
	b := NewBar(&out, 25, "embedding")
	for range 25 {
		b.Add(1)
	}
	b.Finish()
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 13 || lines[0] != "embedding  2/25" || lines[12] != "embedding  25/25" || strings.Contains(out.String(), "\r") {
		t.Fatalf("%d lines:\n%s", len(lines), out.String())
	}
}

func TestHandler(t *testing.T) {
	var out strings.Builder
	w := NewWriter(&out)
	l := slog.New(NewHandler(w, "vit", slog.LevelInfo))
	w.Write([]byte("\rpartial"))
	l.Warn("the image does not fit the model", "file", "a.png", "why", "colour")
	l.Debug("hidden")
	l.With("run", "r1").WithGroup("g").Info("saved", "step", 5)
	want := "\rpartial\nvit: warning: the image does not fit the model (file=a.png, why=colour)\nvit: saved (run=r1, g.step=5)\n"
	if out.String() != want {
		t.Fatalf("got %q, want %q", out.String(), want)
	}
}
