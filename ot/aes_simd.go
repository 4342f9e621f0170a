//go:build goexperiment.simd && amd64

package ot

import (
	"encoding/binary"
	"simd/archsimd"
	"unsafe"
)

// The fixed key's AES-128 round keys, expanded with AESKEYGENASSIST for
// SubWord (FIPS-197 §5.2); TestPermBatch checks the result against
// crypto/aes.
var roundKeys = func() (rk [11]archsimd.Uint32x4) {
	var w [44]uint32
	for i := range 4 {
		w[i] = binary.LittleEndian.Uint32(fixedKeyBytes[4*i:])
	}
	rcon := uint8(1)
	for i := 4; i < 44; i++ {
		t := w[i-1]
		if i%4 == 0 {
			// dword 0 of AESKEYGENASSIST(x) is SubWord(x_1); RotWord
			// and Rcon are applied here.
			var in, out [4]uint32
			in[1] = t
			archsimd.LoadUint32x4(&in).AESRoundKeyGenAssist(0).Store(&out)
			t = (out[0]>>8 | out[0]<<24) ^ uint32(rcon)
			rcon = rcon<<1 ^ 0x1b*(rcon>>7)
		}
		w[i] = w[i-4] ^ t
	}
	for r := range rk {
		rk[r] = archsimd.LoadUint32x4((*[4]uint32)(w[4*r : 4*r+4]))
	}
	return rk
}()

// roundKeys512 holds each round key four times: one per 128-bit lane of
// a 512-bit register, for VAES.
var roundKeys512 = func() (rk [11]archsimd.Uint32x16) {
	for r := range rk {
		var w [4]uint32
		roundKeys[r].Store(&w)
		var x [16]uint32
		for l := range 4 {
			copy(x[4*l:], w[:])
		}
		rk[r] = archsimd.LoadUint32x16(&x)
	}
	return rk
}()

func init() {
	switch {
	case archsimd.X86.AVX512VAES():
		permBatch = permVAES
	case archsimd.X86.AVXAES():
		permBatch = permSIMD
	}
}

func load4(b *Block) archsimd.Uint8x64 {
	return archsimd.LoadUint8x64((*[64]uint8)(unsafe.Pointer(b)))
}

func store4(v archsimd.Uint8x64, b *Block) { v.Store((*[64]uint8)(unsafe.Pointer(b))) }

// permVAES encrypts 32 blocks per step, four per 512-bit register and
// eight registers round by round (VAES); the rest goes to permSIMD.
func permVAES(dst, src []Block) {
	n := len(src)
	i := 0
	k0 := roundKeys512[0].AsUint8x64()
	for ; i+32 <= n; i += 32 {
		s := src[i : i+32 : i+32]
		x0, x1, x2, x3 := load4(&s[0]).Xor(k0), load4(&s[4]).Xor(k0), load4(&s[8]).Xor(k0), load4(&s[12]).Xor(k0)
		x4, x5, x6, x7 := load4(&s[16]).Xor(k0), load4(&s[20]).Xor(k0), load4(&s[24]).Xor(k0), load4(&s[28]).Xor(k0)
		for r := 1; r < 10; r++ {
			k := roundKeys512[r]
			x0, x1, x2, x3 = x0.AESEncryptOneRound(k), x1.AESEncryptOneRound(k), x2.AESEncryptOneRound(k), x3.AESEncryptOneRound(k)
			x4, x5, x6, x7 = x4.AESEncryptOneRound(k), x5.AESEncryptOneRound(k), x6.AESEncryptOneRound(k), x7.AESEncryptOneRound(k)
		}
		k := roundKeys512[10]
		d := dst[i : i+32 : i+32]
		store4(x0.AESEncryptLastRound(k), &d[0])
		store4(x1.AESEncryptLastRound(k), &d[4])
		store4(x2.AESEncryptLastRound(k), &d[8])
		store4(x3.AESEncryptLastRound(k), &d[12])
		store4(x4.AESEncryptLastRound(k), &d[16])
		store4(x5.AESEncryptLastRound(k), &d[20])
		store4(x6.AESEncryptLastRound(k), &d[24])
		store4(x7.AESEncryptLastRound(k), &d[28])
	}
	if i < n {
		permSIMD(dst[i:], src[i:])
	}
}

func loadBlock(b *Block) archsimd.Uint8x16 {
	return archsimd.LoadUint8x16((*[16]uint8)(unsafe.Pointer(b)))
}

func storeBlock(v archsimd.Uint8x16, b *Block) { v.Store((*[16]uint8)(unsafe.Pointer(b))) }

// permSIMD encrypts eight blocks per step, round by round, so the AES
// unit's pipeline stays full; the tail goes one block at a time.
func permSIMD(dst, src []Block) {
	n := len(src)
	i := 0
	k0 := rk8(0)
	for ; i+8 <= n; i += 8 {
		s := src[i : i+8 : i+8]
		x0, x1, x2, x3 := loadBlock(&s[0]).Xor(k0), loadBlock(&s[1]).Xor(k0), loadBlock(&s[2]).Xor(k0), loadBlock(&s[3]).Xor(k0)
		x4, x5, x6, x7 := loadBlock(&s[4]).Xor(k0), loadBlock(&s[5]).Xor(k0), loadBlock(&s[6]).Xor(k0), loadBlock(&s[7]).Xor(k0)
		for r := 1; r < 10; r++ {
			k := roundKeys[r]
			x0, x1, x2, x3 = x0.AESEncryptOneRound(k), x1.AESEncryptOneRound(k), x2.AESEncryptOneRound(k), x3.AESEncryptOneRound(k)
			x4, x5, x6, x7 = x4.AESEncryptOneRound(k), x5.AESEncryptOneRound(k), x6.AESEncryptOneRound(k), x7.AESEncryptOneRound(k)
		}
		k := roundKeys[10]
		d := dst[i : i+8 : i+8]
		storeBlock(x0.AESEncryptLastRound(k), &d[0])
		storeBlock(x1.AESEncryptLastRound(k), &d[1])
		storeBlock(x2.AESEncryptLastRound(k), &d[2])
		storeBlock(x3.AESEncryptLastRound(k), &d[3])
		storeBlock(x4.AESEncryptLastRound(k), &d[4])
		storeBlock(x5.AESEncryptLastRound(k), &d[5])
		storeBlock(x6.AESEncryptLastRound(k), &d[6])
		storeBlock(x7.AESEncryptLastRound(k), &d[7])
	}
	for ; i < n; i++ {
		x := loadBlock(&src[i]).Xor(k0)
		for r := 1; r < 10; r++ {
			x = x.AESEncryptOneRound(roundKeys[r])
		}
		storeBlock(x.AESEncryptLastRound(roundKeys[10]), &dst[i])
	}
}

// rk8 is round key r as bytes (the whitening XOR works on Uint8x16).
func rk8(r int) archsimd.Uint8x16 { return roundKeys[r].AsUint8x16() }
