package serve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vitgo/vit"
	"github.com/vitgo/vit/kernels"
)

// ErrQueueFull is returned by [Batcher.Run] when the images waiting for the
// model would exceed the queue: the server is over capacity and the caller
// should retry later (HTTP 429).
var ErrQueueFull = errors.New("serve: the model's queue is full; retry later")

// ErrClosed is returned by [Batcher.Run] after [Batcher.Close].
var ErrClosed = errors.New("serve: the batcher is closed")

// TooManyImagesError reports a request of more images than the queue can
// ever hold.
type TooManyImagesError struct{ Images, Queue int }

func (e *TooManyImagesError) Error() string {
	return fmt.Sprintf("serve: %d images in one request; the queue holds at most %d (send fewer images per request)", e.Images, e.Queue)
}

// BatchOptions are a Batcher's limits. The zero value of a field means its
// default.
type BatchOptions struct {
	// MaxBatch is the most images run in one forward pass (default 16).
	MaxBatch int
	// MaxDelay is how long the first image of a batch waits for others,
	// from when it was queued, before the batch runs anyway (default
	// 5ms). Images queued while a batch runs are taken at once.
	MaxDelay time.Duration
	// Queue is the most images waiting for a forward pass; Run refuses
	// more with ErrQueueFull (default 256).
	Queue int
	// Logger receives panics recovered from forward passes (default
	// slog.Default()).
	Logger *slog.Logger
	// Observe, when not nil, is called after each forward pass with the
	// images it ran and how long it took.
	Observe func(images int, compute time.Duration)
	// ComputeNice, when > 0 (Linux only), runs forward passes on threads
	// at this nice value (1 to 19; vit serve uses 10), below the threads
	// that handle requests, so that a request arriving while a batch
	// computes is read, refused or queued at once (see
	// kernels.SetComputeNice). Give the process one P more than
	// kernels.Workers (GOMAXPROCS) for the request goroutines.
	ComputeNice int
}

func (o BatchOptions) withDefaults() BatchOptions {
	if o.MaxBatch <= 0 {
		o.MaxBatch = 16
	}
	if o.MaxDelay <= 0 {
		o.MaxDelay = 5 * time.Millisecond
	}
	if o.Queue <= 0 {
		o.Queue = 256
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// Output is what a forward pass gives for the images of one Run call.
type Output struct {
	// Logits: [n, classes]; Features: [n, dim] (see vit.Model.Outputs).
	Logits, Features []float32
	// Batch is the largest forward pass the images ran in, counting
	// other callers' images.
	Batch int
	// Wait is the longest time an image waited in the queue; Compute the
	// time of the forward passes that ran them.
	Wait, Compute time.Duration
}

// A Batcher gathers the images of concurrent callers into batches for one
// model: a batch runs when it holds MaxBatch images or MaxDelay after its
// first image arrived, whichever comes first, as one forward pass (which
// uses all cores); each caller gets its own rows. It is safe for
// concurrent use.
type Batcher struct {
	m       *vit.Model
	opt     BatchOptions
	jobs    chan *job
	pending atomic.Int64 // images queued or gathered, not yet running
	mu      sync.RWMutex // held for reading while sending to jobs; Close takes it to close jobs
	closed  bool
	done    chan struct{}
	input   []float32      // the loop's: the images of a batch of several jobs, end to end
	ws      *vit.Workspace // the loop's: one workspace of MaxBatch images runs every batch
}

// job is a part of one Run call, of at most MaxBatch images.
type job struct {
	ctx    context.Context
	x      []float32 // [n, channels, height, width]
	n      int
	queued time.Time
	out    chan jobResult // buffered: the worker never blocks on a caller gone
}

type jobResult struct {
	logits, features []float32
	batch            int
	wait, compute    time.Duration
	err              error
}

// NewBatcher starts a batcher for m. Stop it with Close.
func NewBatcher(m *vit.Model, opt BatchOptions) *Batcher {
	opt = opt.withDefaults()
	b := &Batcher{m: m, opt: opt, jobs: make(chan *job, opt.Queue), done: make(chan struct{})}
	go b.loop()
	return b
}

// Model returns the batcher's model.
func (b *Batcher) Model() *vit.Model { return b.m }

// Options returns the batcher's limits, defaults filled in.
func (b *Batcher) Options() BatchOptions { return b.opt }

// Pending returns how many images wait in the queue, counting those
// gathered into a batch that has not started and those a server has
// admitted and is still reading or decoding (see Reserve).
func (b *Batcher) Pending() int { return int(b.pending.Load()) }

// Reserve holds room in the queue for n images that are not prepared
// yet: a server reserves a request's image when it admits the request,
// before reading and decoding its body, so that the requests it admits
// can never overfill the queue and every refusal is the early one. It
// returns ErrQueueFull, holding nothing, when the queue has no room. The
// Reservation is consumed by [Batcher.RunReserved] or given back with
// [Reservation.Release].
func (b *Batcher) Reserve(n int) (*Reservation, error) {
	if n < 1 {
		return nil, fmt.Errorf("serve: reserving %d images", n)
	}
	if b.pending.Add(int64(n)) > int64(b.opt.Queue) {
		b.pending.Add(-int64(n))
		return nil, ErrQueueFull
	}
	return &Reservation{b: b, n: n}, nil
}

// A Reservation is room held in a Batcher's queue (see [Batcher.Reserve]).
type Reservation struct {
	b *Batcher
	n int
}

// Release gives the room back, unless RunReserved took it; it may be
// called more than once, and on nil.
func (r *Reservation) Release() {
	if r != nil && r.n > 0 {
		r.b.pending.Add(-int64(r.n))
		r.n = 0
	}
}

// Run queues n images x: [n, channels, height, width], prepared for the
// model (see vit.Config.Input), and waits for their outputs. It returns
// ErrQueueFull at once when the queue cannot take them, and ctx's error
// when ctx ends first: the caller's images are then dropped without
// harming the other callers' (a batch already running finishes).
func (b *Batcher) Run(ctx context.Context, x []float32, n int) (Output, error) {
	return b.RunReserved(ctx, nil, x, n)
}

// RunReserved is Run for images whose room in the queue was reserved, in
// part or whole, by res (nil: none), which it takes over: it is consumed
// whether the images run or not. Room for images beyond res is taken as
// Run takes it.
func (b *Batcher) RunReserved(ctx context.Context, res *Reservation, x []float32, n int) (Output, error) {
	held := 0
	if res != nil {
		if res.b != b {
			res.Release()
			return Output{}, errors.New("serve: a reservation of another batcher")
		}
		held, res.n = res.n, 0
	}
	release := func() {
		if held > 0 {
			b.pending.Add(-int64(held))
		}
	}
	c := b.m.Config
	if per := c.Channels * c.ImageHeight * c.ImageWidth; n < 1 || len(x) != n*per {
		release()
		return Output{}, fmt.Errorf("serve: %d values for %d images of %d×%d×%d", len(x), n, c.Channels, c.ImageHeight, c.ImageWidth)
	}
	if n > b.opt.Queue {
		release()
		return Output{}, &TooManyImagesError{Images: n, Queue: b.opt.Queue}
	}
	if err := ctx.Err(); err != nil {
		release()
		return Output{}, err
	}
	// From here the queue counts exactly n images for this call.
	if more := int64(n - held); more > 0 {
		if b.pending.Add(more) > int64(b.opt.Queue) {
			b.pending.Add(-more)
			release()
			return Output{}, ErrQueueFull
		}
	} else if more < 0 {
		b.pending.Add(more)
	}
	per := len(x) / n
	var jobs []*job
	now := time.Now()
	for start := 0; start < n; start += b.opt.MaxBatch {
		k := min(b.opt.MaxBatch, n-start)
		jobs = append(jobs, &job{ctx: ctx, x: x[start*per : (start+k)*per], n: k, queued: now, out: make(chan jobResult, 1)})
	}
	b.mu.RLock()
	if b.closed {
		b.mu.RUnlock()
		b.pending.Add(-int64(n))
		return Output{}, ErrClosed
	}
	for _, j := range jobs {
		b.jobs <- j // never blocks: pending ≤ Queue = cap(jobs) counts images ≥ jobs
	}
	b.mu.RUnlock()

	var out Output
	for _, j := range jobs {
		select {
		case <-ctx.Done():
			return Output{}, ctx.Err()
		case r := <-j.out:
			if r.err != nil {
				return Output{}, r.err
			}
			out.Logits = append(out.Logits, r.logits...)
			out.Features = append(out.Features, r.features...)
			out.Batch = max(out.Batch, r.batch)
			out.Wait = max(out.Wait, r.wait)
			out.Compute += r.compute
		}
	}
	return out, nil
}

// Close stops the batcher once the queued images have run; Run then
// returns ErrClosed.
func (b *Batcher) Close() {
	b.mu.Lock()
	if !b.closed {
		b.closed = true
		close(b.jobs)
	}
	b.mu.Unlock()
	<-b.done
}

// loop gathers jobs into batches and runs them, one at a time.
func (b *Batcher) loop() {
	defer close(b.done)
	if n := b.opt.ComputeNice; n > 0 {
		if unlock, err := kernels.LockComputeThread(n); err != nil {
			b.opt.Logger.Warn("forward passes run at the process's priority", "err", err)
		} else {
			defer unlock()
			if err := kernels.SetComputeNice(n); err != nil {
				b.opt.Logger.Warn("kernel helpers run at the process's priority", "err", err)
			}
		}
	}
	var next *job // a job taken that did not fit the last batch
	for {
		first := next
		next = nil
		if first == nil {
			j, ok := <-b.jobs
			if !ok {
				return
			}
			first = j
		}
		if first.ctx.Err() != nil {
			b.pending.Add(-int64(first.n))
			continue
		}
		var batch []*job
		batch, next = b.gather(first)
		b.run(batch)
	}
}

// gather forms a batch from first and the jobs queued after it: it takes
// jobs until the batch holds MaxBatch images or MaxDelay has passed since
// first was queued, whichever comes first. Jobs already queued are taken
// without waiting, so images that queued during the previous forward pass
// do not wait MaxDelay again. It returns the batch and a job taken that did
// not fit (nil if none).
func (b *Batcher) gather(first *job) (batch []*job, next *job) {
	batch = []*job{first}
	size := first.n
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for size < b.opt.MaxBatch {
		var j *job
		var ok bool
		select {
		case j, ok = <-b.jobs: // queued already
		default:
			left := b.opt.MaxDelay - time.Since(first.queued)
			if left <= 0 {
				return batch, nil
			}
			if timer == nil {
				timer = time.NewTimer(left)
			}
			select {
			case j, ok = <-b.jobs:
			case <-timer.C:
				return batch, nil
			}
		}
		if !ok {
			return batch, nil
		}
		if size+j.n > b.opt.MaxBatch {
			return batch, j
		}
		if j.ctx.Err() != nil {
			b.pending.Add(-int64(j.n))
			continue
		}
		batch = append(batch, j)
		size += j.n
	}
	return batch, nil
}

// run runs one batch and hands each job its rows. Jobs whose callers have
// gone are left out, unless all have gone. A panic in the forward pass is
// answered to every job as an error, and logged; the batcher goes on.
func (b *Batcher) run(batch []*job) {
	live := batch[:0]
	for _, j := range batch {
		b.pending.Add(-int64(j.n)) // gathered images count as queued until their batch runs
		if j.ctx.Err() == nil {
			live = append(live, j)
		}
	}
	if len(live) == 0 {
		return
	}
	batch = live
	n := 0
	for _, j := range batch {
		n += j.n
	}
	x := batch[0].x
	if len(batch) > 1 {
		x = b.input[:0]
		for _, j := range batch {
			x = append(x, j.x...)
		}
		b.input = x // reused: the forward pass keeps no reference to x
	}
	start := time.Now()
	logits, features, err := b.forward(x, n)
	compute := time.Since(start)
	if b.opt.Observe != nil && err == nil {
		b.opt.Observe(n, compute)
	}
	c := b.m.Config
	row := 0
	for _, j := range batch {
		r := jobResult{batch: n, wait: start.Sub(j.queued), compute: compute, err: err}
		if err == nil {
			r.logits = logits[row*c.Classes : (row+j.n)*c.Classes : (row+j.n)*c.Classes]
			r.features = features[row*c.FeatureDim() : (row+j.n)*c.FeatureDim() : (row+j.n)*c.FeatureDim()]
		}
		row += j.n
		j.out <- r
	}
}

// PanicError is a panic recovered from a forward pass or a handler.
type PanicError struct {
	Value any
	Stack []byte
}

func (e *PanicError) Error() string { return fmt.Sprintf("serve: internal error (panic: %v)", e.Value) }

func (b *Batcher) forward(x []float32, n int) (logits, features []float32, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = &PanicError{Value: p, Stack: debug.Stack()}
			b.opt.Logger.Error("panic in a forward pass", "panic", fmt.Sprint(p), "images", n, "stack", string(err.(*PanicError).Stack))
		}
	}()
	if b.ws == nil {
		b.ws = b.m.NewWorkspace(b.opt.MaxBatch, false)
	}
	return b.m.OutputsIn(b.ws, x, n)
}
