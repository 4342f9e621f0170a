//go:build amd64 && !purego

#include "textflag.h"

// Each routine encrypts its blocks with the expanded AES-128 keys ks and kv
// (round key r at byte offset 16·r) and replaces each block by
// AES(block) XOR block (MMO). The blocks' encryptions are independent and
// interleaved round by round to fill the AES pipeline; the ROUND macros
// apply one round (op = PXOR for the key whitening, AESENC, AESENCLAST)
// to every block, and the MMO macros XOR a block with its input and store it.

// ROUND8: X0-X3 under ks, X4-X7 under kv (keys in X8, X9).
#define ROUND8(op, off) \
	MOVUPS off(AX), X8; MOVUPS off(BX), X9; \
	op X8, X0; op X8, X1; op X8, X2; op X8, X3; \
	op X9, X4; op X9, X5; op X9, X6; op X9, X7

// ROUND16: Y0-Y3 under ks, Y4-Y7 under kv (keys in Y8, Y9).
#define ROUND16(op, off) \
	VBROADCASTI128 off(AX), Y8; VBROADCASTI128 off(BX), Y9; \
	op Y8, Y0, Y0; op Y8, Y1, Y1; op Y8, Y2, Y2; op Y8, Y3, Y3; \
	op Y9, Y4, Y4; op Y9, Y5, Y5; op Y9, Y6, Y6; op Y9, Y7, Y7

// ROUND24: Y0-Y3 under ks, Y4-Y11 under kv (keys in Y12, Y13).
#define ROUND24(op, off) \
	VBROADCASTI128 off(AX), Y12; VBROADCASTI128 off(BX), Y13; \
	op Y12, Y0, Y0; op Y12, Y1, Y1; op Y12, Y2, Y2; op Y12, Y3, Y3; \
	op Y13, Y4, Y4; op Y13, Y5, Y5; op Y13, Y6, Y6; op Y13, Y7, Y7; \
	op Y13, Y8, Y8; op Y13, Y9, Y9; op Y13, Y10, Y10; op Y13, Y11, Y11

// MMOX / MMOY: block register r at byte offset off of b, through the
// scratch register t.
#define MMOX(r, off) MOVUPS off(DI), X10; PXOR X10, r; MOVUPS r, off(DI)
#define MMOY(r, off, t) VMOVDQU off(DI), t; VPXOR t, r, r; VMOVDQU r, off(DI)

// func mmo8(ks, kv *[176]byte, b *[8]block)
// Blocks 0-3 under ks, 4-7 under kv (AES-NI).
TEXT ·mmo8(SB), NOSPLIT, $0-24
	MOVQ ks+0(FP), AX
	MOVQ kv+8(FP), BX
	MOVQ b+16(FP), DI
	MOVUPS 0(DI), X0
	MOVUPS 16(DI), X1
	MOVUPS 32(DI), X2
	MOVUPS 48(DI), X3
	MOVUPS 64(DI), X4
	MOVUPS 80(DI), X5
	MOVUPS 96(DI), X6
	MOVUPS 112(DI), X7
	ROUND8(PXOR, 0)
	ROUND8(AESENC, 16)
	ROUND8(AESENC, 32)
	ROUND8(AESENC, 48)
	ROUND8(AESENC, 64)
	ROUND8(AESENC, 80)
	ROUND8(AESENC, 96)
	ROUND8(AESENC, 112)
	ROUND8(AESENC, 128)
	ROUND8(AESENC, 144)
	ROUND8(AESENCLAST, 160)
	MMOX(X0, 0)
	MMOX(X1, 16)
	MMOX(X2, 32)
	MMOX(X3, 48)
	MMOX(X4, 64)
	MMOX(X5, 80)
	MMOX(X6, 96)
	MMOX(X7, 112)
	RET

// func cpuid(eaxArg, ecxArg uint32) (eax, ebx, ecx, edx uint32)
TEXT ·cpuid(SB), NOSPLIT, $0-24
	MOVL eaxArg+0(FP), AX
	MOVL ecxArg+4(FP), CX
	CPUID
	MOVL AX, eax+8(FP)
	MOVL BX, ebx+12(FP)
	MOVL CX, ecx+16(FP)
	MOVL DX, edx+20(FP)
	RET

// func mmo16(ks, kv *[176]byte, b *[16]block)
// Sixteen blocks with VAES on 256-bit registers (two blocks per register):
// blocks 0-7 under ks, 8-15 under kv.
TEXT ·mmo16(SB), NOSPLIT, $0-24
	MOVQ ks+0(FP), AX
	MOVQ kv+8(FP), BX
	MOVQ b+16(FP), DI
	VMOVDQU 0(DI), Y0
	VMOVDQU 32(DI), Y1
	VMOVDQU 64(DI), Y2
	VMOVDQU 96(DI), Y3
	VMOVDQU 128(DI), Y4
	VMOVDQU 160(DI), Y5
	VMOVDQU 192(DI), Y6
	VMOVDQU 224(DI), Y7
	ROUND16(VPXOR, 0)
	ROUND16(VAESENC, 16)
	ROUND16(VAESENC, 32)
	ROUND16(VAESENC, 48)
	ROUND16(VAESENC, 64)
	ROUND16(VAESENC, 80)
	ROUND16(VAESENC, 96)
	ROUND16(VAESENC, 112)
	ROUND16(VAESENC, 128)
	ROUND16(VAESENC, 144)
	ROUND16(VAESENCLAST, 160)
	MMOY(Y0, 0, Y10)
	MMOY(Y1, 32, Y10)
	MMOY(Y2, 64, Y10)
	MMOY(Y3, 96, Y10)
	MMOY(Y4, 128, Y10)
	MMOY(Y5, 160, Y10)
	MMOY(Y6, 192, Y10)
	MMOY(Y7, 224, Y10)
	VZEROUPPER
	RET

// func xgetbv0() (eax, edx uint32)
TEXT ·xgetbv0(SB), NOSPLIT, $0-8
	MOVL $0, CX
	BYTE $0x0f; BYTE $0x01; BYTE $0xd0 // XGETBV
	MOVL AX, eax+0(FP)
	MOVL DX, edx+4(FP)
	RET

// func mmo24(ks, kv *[176]byte, b *[24]block)
// Twenty-four blocks (twelve 256-bit registers): blocks 0-7 under ks, 8-23
// under kv. Twelve independent chains keep the VAES units busy where
// mmo16 waits on AES latency.
TEXT ·mmo24(SB), NOSPLIT, $0-24
	MOVQ ks+0(FP), AX
	MOVQ kv+8(FP), BX
	MOVQ b+16(FP), DI
	VMOVDQU 0(DI), Y0
	VMOVDQU 32(DI), Y1
	VMOVDQU 64(DI), Y2
	VMOVDQU 96(DI), Y3
	VMOVDQU 128(DI), Y4
	VMOVDQU 160(DI), Y5
	VMOVDQU 192(DI), Y6
	VMOVDQU 224(DI), Y7
	VMOVDQU 256(DI), Y8
	VMOVDQU 288(DI), Y9
	VMOVDQU 320(DI), Y10
	VMOVDQU 352(DI), Y11
	ROUND24(VPXOR, 0)
	ROUND24(VAESENC, 16)
	ROUND24(VAESENC, 32)
	ROUND24(VAESENC, 48)
	ROUND24(VAESENC, 64)
	ROUND24(VAESENC, 80)
	ROUND24(VAESENC, 96)
	ROUND24(VAESENC, 112)
	ROUND24(VAESENC, 128)
	ROUND24(VAESENC, 144)
	ROUND24(VAESENCLAST, 160)
	MMOY(Y0, 0, Y14)
	MMOY(Y1, 32, Y14)
	MMOY(Y2, 64, Y14)
	MMOY(Y3, 96, Y14)
	MMOY(Y4, 128, Y14)
	MMOY(Y5, 160, Y14)
	MMOY(Y6, 192, Y14)
	MMOY(Y7, 224, Y14)
	MMOY(Y8, 256, Y14)
	MMOY(Y9, 288, Y14)
	MMOY(Y10, 320, Y14)
	MMOY(Y11, 352, Y14)
	VZEROUPPER
	RET
