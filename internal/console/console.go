// Package console is how the vit command talks to a person on stderr: a
// writer that knows whether a progress bar holds the current line, one
// progress bar that redraws itself on a terminal and prints plain lines
// elsewhere, and a log/slog handler whose messages always start on a
// fresh line.
package console

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// Writer wraps a stream (stderr) and remembers whether the last write left
// the cursor inside a line, as a progress bar does, so that messages can
// start on a fresh one. It is safe for concurrent use.
type Writer struct {
	mu      sync.Mutex
	w       io.Writer
	tty     bool
	midLine bool
}

// NewWriter wraps w. It is a terminal when w is an *os.File on one; a
// *Writer is returned as it is.
func NewWriter(w io.Writer) *Writer {
	if cw, ok := w.(*Writer); ok {
		return cw
	}
	f, ok := w.(*os.File)
	return &Writer{w: w, tty: ok && term.IsTerminal(int(f.Fd()))}
}

// Terminal reports whether the stream is a terminal.
func (w *Writer) Terminal() bool { return w.tty }

// Write writes p. A write that ends in neither a newline nor a carriage
// return leaves the line open.
func (w *Writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.write(p)
}

func (w *Writer) write(p []byte) (int, error) {
	n, err := w.w.Write(p)
	if n > 0 {
		last := p[n-1]
		w.midLine = last != '\n' && last != '\r'
	}
	return n, err
}

// Println writes a message on a line of its own: it first ends a line a
// progress bar left open, and adds the final newline when msg lacks one.
func (w *Writer) Println(msg string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.midLine {
		w.write([]byte("\n"))
	}
	if !strings.HasSuffix(msg, "\n") {
		msg += "\n"
	}
	w.write([]byte(msg))
}

// Printf is Println with a format.
func (w *Writer) Printf(format string, args ...any) { w.Println(fmt.Sprintf(format, args...)) }

// Bar shows the progress of a long job of a known number of steps on a
// Writer: on a terminal a bar redrawn in place (at most five times a
// second, with the count and the time left), elsewhere a plain line at
// every tenth of the job, so that logs stay readable.
type Bar struct {
	w     *Writer
	bar   *progressbar.ProgressBar
	total int
	done  int
	desc  string
	every int
}

// NewBar starts a bar of total steps described by desc on w.
func NewBar(w io.Writer, total int, desc string) *Bar {
	return newBar(w, total, desc)
}

// NewRateBar is NewBar that also shows the rate, in units (such as
// "images") per second, next to the count and the time left.
func NewRateBar(w io.Writer, total int, desc, units string) *Bar {
	return newBar(w, total, desc, progressbar.OptionShowIts(), progressbar.OptionSetItsString(units))
}

func newBar(w io.Writer, total int, desc string, more ...progressbar.Option) *Bar {
	cw := NewWriter(w)
	b := &Bar{w: cw, total: total, desc: desc, every: max(total/10, 1)}
	if cw.tty {
		b.bar = progressbar.NewOptions(total, append([]progressbar.Option{
			progressbar.OptionSetWriter(cw),
			progressbar.OptionSetDescription(desc),
			progressbar.OptionSetWidth(24),
			progressbar.OptionShowCount(),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionThrottle(200 * time.Millisecond),
			progressbar.OptionClearOnFinish(),
		}, more...)...)
	}
	return b
}

// Describe changes the text shown with the bar.
func (b *Bar) Describe(desc string) {
	b.desc = desc
	if b.bar != nil {
		b.bar.Describe(desc)
	}
}

// Add advances the bar by n steps.
func (b *Bar) Add(n int) {
	before := b.done
	b.done += n
	if b.bar != nil {
		b.bar.Add(n)
		return
	}
	if b.done/b.every != before/b.every || b.done == b.total {
		b.w.Printf("%s  %d/%d", b.desc, b.done, b.total)
	}
}

// Done returns the steps done so far.
func (b *Bar) Done() int { return b.done }

// Finish removes the bar from a terminal; the line is free again.
func (b *Bar) Finish() {
	if b.bar != nil {
		b.bar.Finish()
		b.bar = nil
	}
}

// Handler is a log/slog handler for a command-line tool: one line per
// record, "PREFIX: MESSAGE (key=value, ...)", with "warning: " or "error: "
// after the prefix for those levels, no time stamp, always on a fresh line
// of its Writer.
type Handler struct {
	w      *Writer
	prefix string
	level  slog.Leveler
	attrs  []slog.Attr
	group  string
}

// NewHandler returns a handler writing records of level or above to w.
func NewHandler(w *Writer, prefix string, level slog.Leveler) *Handler {
	return &Handler{w: w, prefix: prefix, level: level}
}

// Enabled reports whether records of level l are written.
func (h *Handler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level.Level() }

// Handle writes r on a line of its own.
func (h *Handler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(h.prefix)
	b.WriteString(": ")
	switch {
	case r.Level >= slog.LevelError:
		b.WriteString("error: ")
	case r.Level >= slog.LevelWarn:
		b.WriteString("warning: ")
	}
	b.WriteString(r.Message)
	var kv []string
	for _, a := range h.attrs {
		kv = append(kv, a.Key+"="+a.Value.Resolve().String())
	}
	r.Attrs(func(a slog.Attr) bool {
		if !a.Equal(slog.Attr{}) {
			kv = append(kv, h.qualify(a.Key)+"="+a.Value.Resolve().String())
		}
		return true
	})
	if len(kv) > 0 {
		b.WriteString(" (" + strings.Join(kv, ", ") + ")")
	}
	h.w.Println(b.String())
	return nil
}

// WithAttrs returns a handler that adds attrs to every record.
func (h *Handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	h2 := *h
	h2.attrs = append([]slog.Attr(nil), h.attrs...)
	for _, a := range attrs {
		if !a.Equal(slog.Attr{}) {
			h2.attrs = append(h2.attrs, slog.Attr{Key: h.qualify(a.Key), Value: a.Value})
		}
	}
	return &h2
}

// qualify prefixes key with the handler's group, if any.
func (h *Handler) qualify(key string) string {
	if h.group == "" {
		return key
	}
	return h.group + "." + key
}

// WithGroup returns a handler that qualifies later keys with name.
func (h *Handler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	h2 := *h
	if h2.group != "" {
		name = h2.group + "." + name
	}
	h2.group = name
	return &h2
}
