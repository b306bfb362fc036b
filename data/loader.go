package data

import (
	"fmt"
	"iter"
	"sync"
	"sync/atomic"
)

// LoaderOptions configures a [Loader]. The zero value gives batches in
// dataset order, the last one possibly short, pixels scaled to [0, 1],
// built by two goroutines ahead of the consumer.
type LoaderOptions struct {
	// Shuffle visits the images of each epoch in a random order drawn
	// from (Seed, epoch).
	Shuffle bool
	// DropLast drops the last batch of an epoch if it is short.
	DropLast bool
	// Seed determines the order of every epoch and all augmentation.
	Seed uint64
	// Augment, if not nil, is applied to every image. Its randomness for
	// the image at position p of epoch e comes from (Seed, e, p) only.
	Augment *Augment
	// Normalize maps bytes to floats; see [Normalize].
	Normalize Normalize
	// Workers is the number of goroutines building batches: 0 means 2,
	// and a negative value builds each batch synchronously in Next.
	Workers int
	// Prefetch is the number of batches that may wait ready for the
	// consumer, beyond those being built: 0 means 2.
	Prefetch int
}

// Loader cuts a Dataset into mini-batches of normalised, optionally
// augmented float32 images. A Loader may serve several epochs, one after
// the other or at once; it must not be modified, nor its Dataset, while an
// epoch is open.
type Loader struct {
	d       *Dataset
	bs      int
	opts    LoaderOptions
	lut     [][256]float32
	workers int
	depth   int // batches in flight: being built or ready
	free    chan *Batch
}

// Batch is one mini-batch. X is [B, C, H, W], Labels and Index are [B].
//
// Batches are recycled: call Release when done with a batch (after the
// model has read X) and do not touch it afterwards; its buffers are then
// reused for a later batch. A batch that is never released is simply
// garbage collected, costing an allocation, never a deadlock.
type Batch struct {
	X          []float32 // [B, C, H, W] normalised pixels
	Labels     []int     // [B] class labels
	Index      []int     // [B] indices of the images in the Dataset
	B, C, H, W int       // shape of X; B is short for the last batch of an epoch
	Epoch, Num int       // epoch, and batch number within the epoch

	l     *Loader
	owned uint32 // 1 while the consumer holds it (Next to Release); atomic
}

// Release hands b back to its loader for reuse. Releasing a batch twice
// is harmless; using it after Release is not.
func (b *Batch) Release() {
	if b != nil && atomic.CompareAndSwapUint32(&b.owned, 1, 0) {
		b.l.put(b)
	}
}

// put returns b to the free list, or drops it if the list is full.
func (l *Loader) put(b *Batch) {
	select {
	case l.free <- b:
	default:
	}
}

// NewLoader returns a loader of batches of batchSize images of d. It
// panics if batchSize < 1, d is empty, or opts.Normalize does not match
// the channels of d.
func NewLoader(d *Dataset, batchSize int, opts LoaderOptions) *Loader {
	if batchSize < 1 {
		panic(fmt.Sprintf("data: NewLoader: batch size %d", batchSize))
	}
	if d == nil || d.N == 0 {
		panic("data: NewLoader: empty dataset")
	}
	lut, err := opts.Normalize.luts(d.C)
	if err != nil {
		panic(err.Error())
	}
	l := &Loader{d: d, bs: batchSize, opts: opts, lut: lut}
	l.workers = opts.Workers
	if l.workers == 0 {
		l.workers = 2
	}
	pre := opts.Prefetch
	if pre <= 0 {
		pre = 2
	}
	l.depth = max(l.workers, 0) + pre
	if opts.Augment != nil && opts.Augment.PadCrop < 0 {
		panic("data: NewLoader: negative Augment.PadCrop")
	}
	// The consumer may hold a batch or two while the pipeline is full.
	l.free = make(chan *Batch, l.depth+2)
	return l
}

// Dataset returns the dataset l reads.
func (l *Loader) Dataset() *Dataset { return l.d }

// BatchSize returns the batch size of l.
func (l *Loader) BatchSize() int { return l.bs }

// NumBatches returns the number of batches in one epoch.
func (l *Loader) NumBatches() int {
	if l.opts.DropLast {
		return l.d.N / l.bs
	}
	return (l.d.N + l.bs - 1) / l.bs
}

// Order returns the order in which epoch visits the dataset: a
// permutation of [0, N) (the identity without Shuffle).
func (l *Loader) Order(epoch int) []int {
	if !l.opts.Shuffle {
		p := make([]int, l.d.N)
		for i := range p {
			p[i] = i
		}
		return p
	}
	return permutation(l.d.N, seedOf(l.opts.Seed, uint64(epoch), 0x5eed))
}

// Iter iterates over the batches of one epoch; see [Loader.Epoch].
type Iter struct {
	l      *Loader
	epoch  int
	order  []int // nil: identity
	n      int   // batches in the epoch
	next   int   // next batch Next returns
	issued int   // next batch to hand to the workers
	jobs   chan int
	slots  []chan *Batch // result of batch k is in slots[k%len(slots)]
	stop   atomic.Bool
	wg     sync.WaitGroup
	closed bool
}

// Epoch starts iterating over epoch epoch at batch startBatch (0 for the
// whole epoch; a later batch resumes an interrupted epoch at no extra
// cost, giving the same batches as an uninterrupted run). The epoch's
// batches are built by l's workers ahead of the consumer.
//
// Batches come back from Next in order; each must be released with
// [Batch.Release] once used. Call Close if the epoch is abandoned before
// Next returns false, so that the workers stop. An Iter is used by one
// goroutine.
func (l *Loader) Epoch(epoch, startBatch int) *Iter {
	n := l.NumBatches()
	it := &Iter{l: l, epoch: epoch, n: n, next: min(max(startBatch, 0), n)}
	if l.opts.Shuffle {
		it.order = l.Order(epoch)
	}
	it.issued = it.next
	if l.workers < 0 || it.next >= n {
		return it
	}
	it.jobs = make(chan int, l.depth)
	it.slots = make([]chan *Batch, l.depth)
	for i := range it.slots {
		it.slots[i] = make(chan *Batch, 1)
	}
	for ; it.issued < n && it.issued-it.next < l.depth; it.issued++ {
		it.jobs <- it.issued
	}
	for range l.workers {
		it.wg.Go(func() {
			for k := range it.jobs {
				b := l.get()
				if !it.stop.Load() {
					it.fill(b, k)
				}
				it.slots[k%len(it.slots)] <- b
			}
		})
	}
	return it
}

// Len returns the number of batches Next has yet to return.
func (it *Iter) Len() int {
	if it.closed {
		return 0
	}
	return it.n - it.next
}

// Next returns the next batch of the epoch, or false at its end (after
// which the iterator is closed).
func (it *Iter) Next() (*Batch, bool) {
	if it.closed || it.next >= it.n {
		it.Close()
		return nil, false
	}
	k := it.next
	it.next++
	var b *Batch
	if it.jobs == nil {
		b = it.l.get()
		it.fill(b, k)
	} else {
		b = <-it.slots[k%len(it.slots)]
		if it.issued < it.n {
			it.jobs <- it.issued
			it.issued++
		}
	}
	atomic.StoreUint32(&b.owned, 1)
	return b, true
}

// Close stops the workers of the epoch and recycles the batches they
// built. It is safe to call more than once.
func (it *Iter) Close() {
	if it.closed {
		return
	}
	it.closed = true
	if it.jobs == nil {
		return
	}
	it.stop.Store(true)
	close(it.jobs)
	it.wg.Wait()
	for k := it.next; k < it.issued; k++ {
		it.l.put(<-it.slots[k%len(it.slots)])
	}
}

// Batches returns an iterator over the batches of epoch from startBatch,
// for use with range; see [Loader.Epoch]. Each batch is released when
// the loop body returns (the body may also release it earlier), so the
// body must not keep it.
func (l *Loader) Batches(epoch, startBatch int) iter.Seq[*Batch] {
	return func(yield func(*Batch) bool) {
		it := l.Epoch(epoch, startBatch)
		defer it.Close()
		for b, ok := it.Next(); ok; b, ok = it.Next() {
			cont := yield(b)
			b.Release()
			if !cont {
				return
			}
		}
	}
}

// get returns a recycled batch, or a new one.
func (l *Loader) get() *Batch {
	select {
	case b := <-l.free:
		return b
	default:
	}
	size := l.d.ImageSize()
	rows := min(l.bs, l.d.N) // no batch holds more images than the dataset
	return &Batch{
		X:      make([]float32, rows*size),
		Labels: make([]int, rows),
		Index:  make([]int, rows),
		l:      l,
	}
}

// fill builds batch k of the iterator's epoch into b.
func (it *Iter) fill(b *Batch, k int) {
	l, d := it.l, it.l.d
	size := d.ImageSize()
	lo := k * l.bs
	hi := min(lo+l.bs, d.N)
	n := hi - lo
	b.X = b.X[:n*size]
	b.Labels = b.Labels[:n]
	b.Index = b.Index[:n]
	b.B, b.C, b.H, b.W = n, d.C, d.H, d.W
	b.Epoch, b.Num = it.epoch, k
	for i := range n {
		pos := lo + i
		idx := pos
		if it.order != nil {
			idx = it.order[pos]
		}
		b.Index[i] = idx
		b.Labels[i] = d.Labels[idx]
		r := rng{seedOf(l.opts.Seed, uint64(it.epoch), uint64(pos))}
		transform(b.X[i*size:(i+1)*size], d.Image(idx), d.C, d.H, d.W, l.lut, l.opts.Augment, &r)
	}
}
