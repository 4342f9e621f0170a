//go:build amd64 && !purego

package fss

// mmo8, mmo16 and mmo24 are implemented in aes_amd64.s.
//
//go:noescape
func mmo8(ks, kv *[176]byte, b *[8]block)

//go:noescape
func mmo16(ks, kv *[176]byte, b *[16]block)

//go:noescape
func mmo24(ks, kv *[176]byte, b *[24]block)

//go:noescape
func cpuid(eaxArg, ecxArg uint32) (eax, ebx, ecx, edx uint32)

func xgetbv0() (eax, edx uint32)

// useAsm reports whether the CPU has AES-NI (CPUID.1:ECX bit 25).
// useVAES reports whether mmo16 can run: AVX with OS support for the YMM
// state (OSXSAVE, XCR0 bits 1-2), AVX2 and VAES.
var useAsm, useVAES = func() (bool, bool) {
	_, _, c1, _ := cpuid(1, 0)
	aesni := c1&(1<<25) != 0
	if c1&(1<<27) == 0 || c1&(1<<28) == 0 { // OSXSAVE, AVX
		return aesni, false
	}
	if xcr0, _ := xgetbv0(); xcr0&6 != 6 {
		return aesni, false
	}
	_, b7, c7, _ := cpuid(7, 0)
	return aesni, aesni && b7&(1<<5) != 0 && c7&(1<<9) != 0 // AVX2, VAES
}()
