package data

import (
	"math"
	"slices"
	"testing"
)

// collect returns copies of all batches of epoch e from startBatch.
func collect(l *Loader, e, startBatch int) []Batch {
	var out []Batch
	it := l.Epoch(e, startBatch)
	for b, ok := it.Next(); ok; b, ok = it.Next() {
		c := *b
		c.X, c.Labels, c.Index = slices.Clone(b.X), slices.Clone(b.Labels), slices.Clone(b.Index)
		out = append(out, c)
		b.Release()
	}
	return out
}

func sameBatches(a, b []Batch) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Num != b[i].Num || !slices.Equal(a[i].X, b[i].X) || !slices.Equal(a[i].Labels, b[i].Labels) || !slices.Equal(a[i].Index, b[i].Index) {
			return false
		}
	}
	return true
}

func TestLoaderPlain(t *testing.T) {
	d := synthetic(23, 2, 3, 4, 5)
	l := NewLoader(d, 5, LoaderOptions{})
	bs := collect(l, 0, 0)
	if len(bs) != 5 || l.NumBatches() != 5 || bs[4].B != 3 || len(bs[4].X) != 3*24 {
		t.Fatalf("%d batches, last B=%d", len(bs), bs[len(bs)-1].B)
	}
	for _, b := range bs {
		if b.C != 2 || b.H != 3 || b.W != 4 {
			t.Fatalf("shape %d %d %d", b.C, b.H, b.W)
		}
		for i, idx := range b.Index {
			if idx != b.Num*5+i || b.Labels[i] != d.Labels[idx] {
				t.Fatalf("batch %d item %d: index %d", b.Num, i, idx)
			}
			for j, p := range d.Image(idx) {
				if b.X[i*24+j] != float32(p)/255 {
					t.Fatalf("pixel mismatch")
				}
			}
		}
	}
	l = NewLoader(d, 5, LoaderOptions{DropLast: true})
	if n := len(collect(l, 0, 0)); n != 4 || l.NumBatches() != 4 {
		t.Fatalf("DropLast: %d batches", n)
	}
	// A batch size beyond the dataset allocates the dataset's images, not
	// the batch's: 2⁴⁰ images would take petabytes.
	l = NewLoader(d, 1<<40, LoaderOptions{})
	if bs := collect(l, 0, 0); len(bs) != 1 || bs[0].B != 23 || len(bs[0].X) != 23*24 {
		t.Fatalf("batch 2⁴⁰: %d batches", len(bs))
	}
}

func TestLoaderDeterminism(t *testing.T) {
	d := synthetic(101, 1, 8, 8, 10)
	aug := &Augment{PadCrop: 2, HFlip: true, RandomErasing: 0.5}
	opts := LoaderOptions{Shuffle: true, Seed: 42, Augment: aug, Normalize: Normalize{Mean: []float32{0.5}, Std: []float32{0.25}}}
	ref := collect(NewLoader(d, 8, LoaderOptions{Shuffle: true, Seed: 42, Augment: aug, Normalize: opts.Normalize, Workers: -1}), 3, 0)
	for _, w := range []int{1, 2, 7} {
		o := opts
		o.Workers, o.Prefetch = w, w%3
		if got := collect(NewLoader(d, 8, o), 3, 0); !sameBatches(got, ref) {
			t.Fatalf("Workers=%d gives other batches than synchronous loading", w)
		}
	}
	l := NewLoader(d, 8, opts)
	if !sameBatches(collect(l, 3, 0), ref) {
		t.Fatal("same loader, same epoch, different batches")
	}
	if sameBatches(collect(l, 4, 0), ref) {
		t.Fatal("epochs 3 and 4 are the same")
	}
	o := opts
	o.Seed = 43
	if sameBatches(collect(NewLoader(d, 8, o), 3, 0), ref) {
		t.Fatal("seeds 42 and 43 give the same batches")
	}
	// Every epoch visits every image once.
	for e := range 3 {
		var idx []int
		for _, b := range collect(l, e, 0) {
			idx = append(idx, b.Index...)
		}
		slices.Sort(idx)
		for i, v := range idx {
			if v != i {
				t.Fatalf("epoch %d is not a permutation", e)
			}
		}
	}
}

func TestLoaderResume(t *testing.T) {
	d := synthetic(50, 1, 6, 6, 10)
	l := NewLoader(d, 7, LoaderOptions{Shuffle: true, Seed: 9, Augment: &Augment{PadCrop: 1, HFlip: true}})
	full := collect(l, 2, 0)
	for _, k := range []int{0, 1, 5, 7, 100} {
		got := collect(l, 2, k)
		want := full[min(k, len(full)):]
		if !sameBatches(got, want) {
			t.Fatalf("resuming at batch %d: %d batches, differ from the tail of the epoch", k, len(got))
		}
	}
}

func TestLoaderEarlyClose(t *testing.T) {
	d := synthetic(200, 1, 4, 4, 10)
	l := NewLoader(d, 3, LoaderOptions{Shuffle: true, Workers: 3, Prefetch: 4})
	for range 20 {
		it := l.Epoch(0, 0)
		b, _ := it.Next()
		b.Release()
		b.Release() // harmless
		it.Close()
		it.Close()
		if _, ok := it.Next(); ok {
			t.Fatal("Next after Close")
		}
	}
	n := 0
	for b := range l.Batches(1, 0) {
		n++
		if b.Num == 4 {
			break
		}
	}
	if n != 5 {
		t.Fatalf("range loop saw %d batches", n)
	}
}

// TestLoaderAllocs checks that batches are recycled: an epoch of 200
// batches allocates a fixed handful of objects, not some per batch.
func TestLoaderAllocs(t *testing.T) {
	d := synthetic(2000, 1, 8, 8, 10)
	for _, w := range []int{-1, 2} {
		l := NewLoader(d, 10, LoaderOptions{Shuffle: true, Workers: w, Augment: &Augment{PadCrop: 2, HFlip: true, RandomErasing: 0.5}})
		allocs := testing.AllocsPerRun(3, func() {
			it := l.Epoch(0, 0)
			for b, ok := it.Next(); ok; b, ok = it.Next() {
				b.Release()
			}
		})
		if allocs > 60 {
			t.Errorf("Workers=%d: %.0f allocations for an epoch of 200 batches", w, allocs)
		}
	}
}

func TestLoaderNormalize(t *testing.T) {
	train, _ := Embedded()
	norm := ComputeNormalize(train)
	var s, s2, n float64
	for b := range NewLoader(train, 500, LoaderOptions{Normalize: norm}).Batches(0, 0) {
		for _, v := range b.X {
			s += float64(v)
			s2 += float64(v) * float64(v)
			n++
		}
	}
	m := s / n
	if sd := math.Sqrt(s2/n - m*m); math.Abs(m) > 1e-3 || math.Abs(sd-1) > 1e-3 {
		t.Fatalf("normalised mean %v std %v", m, sd)
	}
	if _, err := (Normalize{Mean: []float32{1, 2}}).luts(3); err == nil {
		t.Error("2 means for 3 channels accepted")
	}
	if _, err := (Normalize{Std: []float32{0}}).luts(1); err == nil {
		t.Error("zero std accepted")
	}
}

// BenchmarkLoaderEpoch measures one epoch of the embedded training set
// (6,000 images) with augmentation, batch 128, consumed at once.
func BenchmarkLoaderEpoch(b *testing.B) {
	train, _ := Embedded()
	l := NewLoader(train, 128, LoaderOptions{Shuffle: true, Augment: &Augment{PadCrop: 4, HFlip: true, RandomErasing: 0.25}, Normalize: FashionMNISTNorm})
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		for range l.Batches(i, 0) {
		}
	}
	b.ReportMetric(float64(train.N)*float64(b.N)/b.Elapsed().Seconds(), "images/s")
}
