package serve

import (
	"context"
	"runtime"
	"slices"
	"testing"
	"time"
)

// TestGatherDelayFromQueued: the delay of a batch counts from when its
// first image was queued, so images that queued while the previous batch
// ran (and so waited longer than MaxDelay already) run at once with the
// others queued, the overflow kept for the next batch; an image alone on
// an idle batcher still waits MaxDelay for company.
func TestGatherDelayFromQueued(t *testing.T) {
	b := &Batcher{opt: BatchOptions{MaxBatch: 4, MaxDelay: 10 * time.Second, Queue: 16}.withDefaults(), jobs: make(chan *job, 16)}
	ctx := context.Background()
	long := time.Now().Add(-time.Minute)
	first := &job{ctx: ctx, n: 1, queued: long}
	queued := []*job{{ctx: ctx, n: 2, queued: long}, {ctx: ctx, n: 2, queued: long}}
	for _, j := range queued {
		b.jobs <- j
	}
	start := time.Now()
	batch, next := b.gather(first)
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("gather waited %v for a first image queued a minute ago (MaxDelay %v)", d, b.opt.MaxDelay)
	}
	if len(batch) != 2 || batch[0] != first || batch[1] != queued[0] || next != queued[1] {
		t.Errorf("gather took %d jobs, next %p: want the first and the job of 2 images that fit, the other as next", len(batch), next)
	}

	b.opt.MaxDelay = 50 * time.Millisecond
	start = time.Now()
	batch, next = b.gather(&job{ctx: ctx, n: 1, queued: time.Now()})
	if d := time.Since(start); d < 40*time.Millisecond {
		t.Errorf("an image alone ran after %v: want it to wait MaxDelay %v for others", d, b.opt.MaxDelay)
	}
	if len(batch) != 1 || next != nil {
		t.Errorf("gather alone: %d jobs, next %v", len(batch), next)
	}
}

// TestRunReusesInput: a batch of several jobs is put end to end in a
// buffer the batcher reuses, not in a new one per batch (for ViT-Ti/16 at
// batch 16 that would be 9.6 MB of garbage per forward pass), and runs in
// the batcher's one workspace of MaxBatch images; each job still gets the
// rows of its own images.
func TestRunReusesInput(t *testing.T) {
	m := tinyModel(t)
	c := m.Config
	per := c.Channels * c.ImageHeight * c.ImageWidth
	b := &Batcher{m: m, opt: BatchOptions{MaxBatch: 4}.withDefaults()}
	x := make([]float32, 2*per)
	for i := range x {
		x[i] = float32(i%97)/97 - 0.5
	}
	want, err := m.Predict(x, 2)
	if err != nil {
		t.Fatal(err)
	}
	batch := func() []*job {
		return []*job{
			{ctx: context.Background(), x: x[:per], n: 1, out: make(chan jobResult, 1)},
			{ctx: context.Background(), x: x[per:], n: 1, out: make(chan jobResult, 1)},
		}
	}
	b.run(batch()) // warm the workspace pool and the buffer
	var before, after runtime.MemStats
	const runs = 20
	runtime.ReadMemStats(&before)
	for range runs {
		jobs := batch()
		b.run(jobs)
		for i, j := range jobs {
			r := <-j.out
			if r.err != nil {
				t.Fatal(r.err)
			}
			if !slices.Equal(r.logits, want[i*c.Classes:(i+1)*c.Classes]) {
				t.Fatalf("job %d: logits %v, want %v", i, r.logits, want[i*c.Classes:(i+1)*c.Classes])
			}
		}
	}
	runtime.ReadMemStats(&after)
	if b.ws == nil || b.ws.Batch() != b.opt.MaxBatch {
		t.Errorf("the batcher's workspace is %v: want one of MaxBatch %d images that runs every batch", b.ws, b.opt.MaxBatch)
	}
	if perRun, input := (after.TotalAlloc-before.TotalAlloc)/runs, uint64(4*len(x)); perRun >= input {
		t.Errorf("a batch of 2 jobs allocated %d bytes, at least its input's %d: the input buffer is not reused", perRun, input)
	}
}

// TestReserve: room reserved counts in the queue until RunReserved takes
// it over (whether the images run or not) or it is released; a full queue
// refuses a reservation at once.
func TestReserve(t *testing.T) {
	m := tinyModel(t)
	b := NewBatcher(m, BatchOptions{MaxBatch: 4, MaxDelay: time.Millisecond, Queue: 2})
	defer b.Close()
	r1, err := b.Reserve(1)
	if err != nil {
		t.Fatal(err)
	}
	r2, err := b.Reserve(1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Reserve(1); err != ErrQueueFull {
		t.Errorf("a third reservation in a queue of 2: %v, want ErrQueueFull", err)
	}
	if b.Pending() != 2 {
		t.Errorf("pending %d with two reservations", b.Pending())
	}
	r2.Release()
	r2.Release() // twice: no effect
	if b.Pending() != 1 {
		t.Errorf("pending %d after a release", b.Pending())
	}
	c := m.Config
	x := make([]float32, 2*c.Channels*c.ImageHeight*c.ImageWidth)
	// Two images on a reservation of one: the second takes the room left.
	out, err := b.RunReserved(context.Background(), r1, x, 2)
	if err != nil || len(out.Logits) != 2*c.Classes {
		t.Fatalf("RunReserved: %v, %d logits", err, len(out.Logits))
	}
	r1.Release() // taken over: no effect
	if b.Pending() != 0 {
		t.Errorf("pending %d after the run", b.Pending())
	}
	// A failed run gives the reservation back too.
	r3, _ := b.Reserve(1)
	if _, err := b.RunReserved(context.Background(), r3, x[:1], 1); err == nil {
		t.Error("a run of the wrong input size did not fail")
	}
	if b.Pending() != 0 {
		t.Errorf("pending %d after a failed run", b.Pending())
	}
}
