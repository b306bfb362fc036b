package kernels

import "sync"

// AttentionHead computes one head of softmax attention,
//
//	out = softmax(scale·Q·Kᵀ)·V
//
// for t queries and t keys of width dh. Q, K and V: [t, dh], each with row
// stride ld (the layout of a fused qkv buffer); out: [t, dh], row stride
// ldo. If probs is not nil it receives the attention probabilities,
// [t, t] (row stride t), as Backward needs them. Single-threaded (callers
// run heads in parallel); it allocates nothing in steady state.
//
// It is one pass over the queries, a register tile of rows at a time: the
// rows' scores against every key, their softmax and their product with V
// all happen while the rows sit in L1, and the two matrix products read Q,
// V and the scores in place, so only Kᵀ is packed, once. The result is the
// same as SgemmSerial, SoftmaxRows and SgemmSerial in turn, up to rounding.
func AttentionHead(q, k, v []float32, ld, t, dh int, scale float32, out []float32, ldo int, probs []float32) {
	attentionHead(kernel, q, k, v, ld, t, dh, scale, out, ldo, probs)
}

// headScratch holds a head's packed Kᵀ and a tile of score rows.
type headScratch struct{ kt, scores []float32 }

var headPool = sync.Pool{New: func() any { return new(headScratch) }}

func attentionHead(mk *microKernel, q, k, v []float32, ld, t, dh int, scale float32, out []float32, ldo int, probs []float32) {
	if t <= 0 || dh <= 0 {
		return
	}
	mr, nr := mk.mr, mk.nr
	if mk.strided == nil || t < mr || t < nr || dh < nr {
		attentionHeadGemm(mk, q, k, v, ld, t, dh, scale, out, ldo, probs)
		return
	}
	_ = q[(t-1)*ld+dh-1]
	_ = k[(t-1)*ld+dh-1]
	_ = v[(t-1)*ld+dh-1]
	_ = out[(t-1)*ldo+dh-1]
	s := headPool.Get().(*headScratch)
	defer headPool.Put(s)

	// Kᵀ as key panels of nr columns, [dh][nr] each; a last partial panel
	// is the full panel ending at key t (it overlaps its neighbour and
	// recomputes the same scores bit for bit).
	panels := ceilDiv(t, nr)
	s.kt = growBuf(s.kt, panels*nr*dh)
	for p := range panels {
		j0 := min(p*nr, t-nr)
		packB(s.kt[p*nr*dh:], k, ld, true, 0, dh, j0, nr, nr, 0, 1, mk.asmPack)
	}
	s.scores = growBuf(s.scores, mr*t)
	sc := s.scores
	for r0 := 0; r0 < t; r0 += mr {
		i0 := min(r0, t-mr) // a last partial block of rows ends at row t
		// Scores of rows i0 … i0+mr-1 against every key.
		for p := range panels {
			j0 := min(p*nr, t-nr)
			mk.strided(dh, &q[i0*ld], ld, 1, &s.kt[p*nr*dh], nr, &sc[j0], t, scale, 0)
		}
		SoftmaxRows(sc, mr, t)
		if probs != nil {
			copy(probs[i0*t:(i0+mr)*t], sc)
		}
		// Their outputs: the probabilities times V, V read in place.
		for c0 := 0; c0 < dh; c0 += nr {
			j0 := min(c0, dh-nr)
			mk.strided(t, &sc[0], t, 1, &v[j0], ld, &out[i0*ldo+j0], ldo, 1, 0)
		}
	}
}

// attentionHeadGemm is AttentionHead through the general matrix product,
// for kernels without in-place operands and heads smaller than a tile.
func attentionHeadGemm(mk *microKernel, q, k, v []float32, ld, t, dh int, scale float32, out []float32, ldo int, probs []float32) {
	p := probs
	var s *headScratch
	if p == nil {
		s = headPool.Get().(*headScratch)
		defer headPool.Put(s)
		s.scores = growBuf(s.scores, t*t)
		p = s.scores
	}
	sgemm(mk, 1, false, true, t, t, dh, scale, q, ld, k, ld, 0, p, t)
	SoftmaxRows(p, t, t)
	sgemm(mk, 1, false, false, t, dh, t, 1, p, t, v, ld, 0, out, ldo)
}

// AttentionHeadBackward computes the gradients of one head of softmax
// attention out = P·V, P = softmax(scale·Q·Kᵀ), from the probabilities P
// and the output gradient dO:
//
//	dV = Pᵀ·dO
//	dP = dO·Vᵀ
//	dS = scale · P ⊙ (dP − rowsum(dP ⊙ P))
//	dQ = dS·K
//	dK = dSᵀ·Q
//
// Q, K, V: [t, dh] with row stride ld; dout: [t, dh], row stride ldo;
// probs: [t, t], row stride t; dQ, dK, dV: [t, dh], row stride ldd
// (overwritten). ds: [t, t] scratch that receives dS. Single-threaded
// (callers run heads in parallel); it allocates nothing in steady state.
//
// Like AttentionHead it works a register tile of query rows at a time: the
// rows' dP, their softmax backward and their part of dQ happen while the
// rows sit in L1. Every operand but Vᵀ (packed once) is read in place. The
// results are those of SgemmSerial and SoftmaxBackwardRows in turn, up to
// rounding.
func AttentionHeadBackward(q, k, v []float32, ld int, dout []float32, ldo int, probs []float32, t, dh int, scale float32, dq, dk, dv []float32, ldd int, ds []float32) {
	attentionHeadBackward(kernel, q, k, v, ld, dout, ldo, probs, t, dh, scale, dq, dk, dv, ldd, ds)
}

func attentionHeadBackward(mk *microKernel, q, k, v []float32, ld int, dout []float32, ldo int, probs []float32, t, dh int, scale float32, dq, dk, dv []float32, ldd int, ds []float32) {
	if t <= 0 || dh <= 0 {
		return
	}
	mr, nr := mk.mr, mk.nr
	if mk.strided == nil || t < mr || t < nr || dh < nr {
		attentionHeadBackwardGemm(mk, q, k, v, ld, dout, ldo, probs, t, dh, scale, dq, dk, dv, ldd, ds)
		return
	}
	_ = q[(t-1)*ld+dh-1]
	_ = k[(t-1)*ld+dh-1]
	_ = v[(t-1)*ld+dh-1]
	_ = dout[(t-1)*ldo+dh-1]
	_ = probs[t*t-1]
	_ = ds[t*t-1]
	_ = dq[(t-1)*ldd+dh-1]
	_ = dk[(t-1)*ldd+dh-1]
	_ = dv[(t-1)*ldd+dh-1]
	s := headPool.Get().(*headScratch)
	defer headPool.Put(s)

	// A last partial tile (rows past t, columns past dh or t) is computed
	// as the full tile ending there: it overlaps its neighbour and
	// recomputes the same values bit for bit.
	// dV = Pᵀ·dO, Pᵀ read in place (step i of row j at probs[i·t + j]).
	for r0 := 0; r0 < t; r0 += mr {
		j0 := min(r0, t-mr)
		for c0 := 0; c0 < dh; c0 += nr {
			cc := min(c0, dh-nr)
			mk.strided(t, &probs[j0], 1, t, &dout[cc], ldo, &dv[j0*ldd+cc], ldd, 1, 0)
		}
	}
	// Vᵀ as key panels of nr columns, [dh][nr] each.
	panels := ceilDiv(t, nr)
	s.kt = growBuf(s.kt, panels*nr*dh)
	for p := range panels {
		j0 := min(p*nr, t-nr)
		packB(s.kt[p*nr*dh:], v, ld, true, 0, dh, j0, nr, nr, 0, 1, mk.asmPack)
	}
	for r0 := 0; r0 < t; r0 += mr {
		i0 := min(r0, t-mr)
		rows := ds[i0*t : (i0+mr)*t]
		// dP of rows i0 … i0+mr-1, then their dS.
		for p := range panels {
			j0 := min(p*nr, t-nr)
			mk.strided(dh, &dout[i0*ldo], ldo, 1, &s.kt[p*nr*dh], nr, &rows[j0], t, 1, 0)
		}
		SoftmaxBackwardRows(rows, probs[i0*t:(i0+mr)*t], mr, t, scale)
		// Their dQ = dS·K, K read in place.
		for c0 := 0; c0 < dh; c0 += nr {
			cc := min(c0, dh-nr)
			mk.strided(t, &rows[0], t, 1, &k[cc], ld, &dq[i0*ldd+cc], ldd, 1, 0)
		}
	}
	// dK = dSᵀ·Q, dSᵀ and Q read in place.
	for r0 := 0; r0 < t; r0 += mr {
		j0 := min(r0, t-mr)
		for c0 := 0; c0 < dh; c0 += nr {
			cc := min(c0, dh-nr)
			mk.strided(t, &ds[j0], 1, t, &q[cc], ld, &dk[j0*ldd+cc], ldd, 1, 0)
		}
	}
}

// attentionHeadBackwardGemm is AttentionHeadBackward through the general
// matrix product, for kernels without in-place operands and heads smaller
// than a tile.
func attentionHeadBackwardGemm(mk *microKernel, q, k, v []float32, ld int, dout []float32, ldo int, probs []float32, t, dh int, scale float32, dq, dk, dv []float32, ldd int, ds []float32) {
	sgemm(mk, 1, true, false, t, dh, t, 1, probs, t, dout, ldo, 0, dv, ldd)
	sgemm(mk, 1, false, true, t, t, dh, 1, dout, ldo, v, ld, 0, ds, t)
	SoftmaxBackwardRows(ds, probs, t, t, scale)
	sgemm(mk, 1, false, false, t, dh, t, 1, ds, t, k, ld, 0, dq, ldd)
	sgemm(mk, 1, true, false, t, dh, t, 1, ds, t, q, ld, 0, dk, ldd)
}

// PrefetchRows asks for the first n floats of rows rows of x (row stride
// stride floats) to be brought into cache, without waiting for them: a
// hint for data that is about to be read, such as the next attention
// head's rows of a qkv buffer. Rows that start past the end of x are
// skipped (a prefetch never faults, so a row's tail may run past it).
func PrefetchRows(x []float32, stride, rows, n int) {
	if n <= 0 || stride <= 0 || len(x) == 0 {
		return
	}
	rows = min(rows, ceilDiv(len(x), stride))
	if rows <= 0 {
		return
	}
	prefetchRows(&x[0], stride, rows, n)
}
