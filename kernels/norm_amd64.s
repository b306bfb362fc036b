//go:build amd64 && !purego

#include "textflag.h"

// LayerNorm row kernels (AVX2 + FMA). n is a positive multiple of 8.

// horizontal sum of Y0 into X0 (low lane)
#define HSUM0 \
	VEXTRACTF128 $1, Y0, X1 \
	VADDPS X1, X0, X0 \
	VMOVHLPS X0, X1, X1 \
	VADDPS X1, X0, X0 \
	VPSHUFD $1, X0, X1 \
	VADDSS X1, X0, X0

// func sumAVX2(x *float32, n int) float32
TEXT ·sumAVX2(SB), NOSPLIT, $0-20
	MOVQ x+0(FP), SI
	MOVQ n+8(FP), CX
	VXORPS Y0, Y0, Y0
	VXORPS Y2, Y2, Y2
	SHRQ $3, CX
sloop:
	VADDPS (SI), Y0, Y0
	ADDQ $32, SI
	DECQ CX
	JZ sdone
	VADDPS (SI), Y2, Y2
	ADDQ $32, SI
	DECQ CX
	JNZ sloop
sdone:
	VADDPS Y2, Y0, Y0
	HSUM0
	MOVSS X0, ret+16(FP)
	VZEROUPPER
	RET

// func sumSqDevAVX2(x *float32, n int, mu float32) float32
TEXT ·sumSqDevAVX2(SB), NOSPLIT, $0-28
	MOVQ x+0(FP), SI
	MOVQ n+8(FP), CX
	VBROADCASTSS mu+16(FP), Y5
	VXORPS Y0, Y0, Y0
	VXORPS Y2, Y2, Y2
	SHRQ $3, CX
qloop:
	VMOVUPS (SI), Y3
	VSUBPS Y5, Y3, Y3
	VFMADD231PS Y3, Y3, Y0
	ADDQ $32, SI
	DECQ CX
	JZ qdone
	VMOVUPS (SI), Y4
	VSUBPS Y5, Y4, Y4
	VFMADD231PS Y4, Y4, Y2
	ADDQ $32, SI
	DECQ CX
	JNZ qloop
qdone:
	VADDPS Y2, Y0, Y0
	HSUM0
	MOVSS X0, ret+24(FP)
	VZEROUPPER
	RET

// func lnApplyAVX2(y, x, gamma, b *float32, n int, c, rs float32)
// y = (x·rs + c)·g + b
TEXT ·lnApplyAVX2(SB), NOSPLIT, $0-48
	MOVQ y+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ gamma+16(FP), R8
	MOVQ b+24(FP), R9
	MOVQ n+32(FP), CX
	VBROADCASTSS c+40(FP), Y6
	VBROADCASTSS rs+44(FP), Y7
	SHRQ $3, CX
aloop:
	VMOVUPS (SI), Y0
	VMOVAPS Y6, Y1
	VFMADD231PS Y7, Y0, Y1
	VMOVUPS (R9), Y2
	VFMADD231PS (R8), Y1, Y2
	VMOVUPS Y2, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	ADDQ $32, R8
	ADDQ $32, R9
	DECQ CX
	JNZ aloop
	VZEROUPPER
	RET

// func lnBackwardSumsAVX2(dy, x, gamma, gg, gb *float32, n int, c, rs float32) (sumD, sumDX float32)
TEXT ·lnBackwardSumsAVX2(SB), NOSPLIT, $0-64
	MOVQ dy+0(FP), SI
	MOVQ x+8(FP), DX
	MOVQ gamma+16(FP), R8
	MOVQ gg+24(FP), R9
	MOVQ gb+32(FP), R10
	MOVQ n+40(FP), CX
	VBROADCASTSS c+48(FP), Y6
	VBROADCASTSS rs+52(FP), Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	SHRQ $3, CX
bloop:
	VMOVUPS (SI), Y0
	VMOVUPS (DX), Y1
	VMOVAPS Y6, Y2
	VFMADD231PS Y7, Y1, Y2
	VMULPS (R8), Y0, Y3
	VADDPS Y3, Y8, Y8
	VFMADD231PS Y2, Y3, Y9
	VMOVUPS (R9), Y4
	VFMADD231PS Y2, Y0, Y4
	VMOVUPS Y4, (R9)
	VADDPS (R10), Y0, Y5
	VMOVUPS Y5, (R10)
	ADDQ $32, SI
	ADDQ $32, DX
	ADDQ $32, R8
	ADDQ $32, R9
	ADDQ $32, R10
	DECQ CX
	JNZ bloop
	VMOVAPS Y8, Y0
	HSUM0
	MOVSS X0, sumD+56(FP)
	VMOVAPS Y9, Y0
	HSUM0
	MOVSS X0, sumDX+60(FP)
	VZEROUPPER
	RET

// func lnBackwardApplyAVX2(dx, dy, x, gamma *float32, n int, c, rs, k1, k2 float32)
// dx += rs·dy·g + k1 + k2·x̂, x̂ = x·rs + c
TEXT ·lnBackwardApplyAVX2(SB), NOSPLIT, $0-56
	MOVQ dx+0(FP), DI
	MOVQ dy+8(FP), SI
	MOVQ x+16(FP), DX
	MOVQ gamma+24(FP), R8
	MOVQ n+32(FP), CX
	VBROADCASTSS c+40(FP), Y6
	VBROADCASTSS rs+44(FP), Y7
	VBROADCASTSS k1+48(FP), Y8
	VBROADCASTSS k2+52(FP), Y9
	SHRQ $3, CX
cloop:
	VMOVUPS (DX), Y1
	VMOVAPS Y6, Y2
	VFMADD231PS Y7, Y1, Y2
	VMOVAPS Y8, Y3
	VFMADD231PS Y9, Y2, Y3
	VMOVUPS (SI), Y0
	VMULPS (R8), Y0, Y0
	VFMADD231PS Y7, Y0, Y3
	VADDPS (DI), Y3, Y3
	VMOVUPS Y3, (DI)
	ADDQ $32, DI
	ADDQ $32, SI
	ADDQ $32, DX
	ADDQ $32, R8
	DECQ CX
	JNZ cloop
	VZEROUPPER
	RET
