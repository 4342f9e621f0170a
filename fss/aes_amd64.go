//go:build amd64 && !purego

package fss

// mmo8 is implemented in aes_amd64.s.
//
//go:noescape
func mmo8(ks, kv *[176]byte, b *[8]block)

//go:noescape
func cpuid(eaxArg, ecxArg uint32) (eax, ebx, ecx, edx uint32)

// useAsm reports whether the CPU has AES-NI (CPUID.1:ECX bit 25).
var useAsm = func() bool {
	_, _, c, _ := cpuid(1, 0)
	return c&(1<<25) != 0
}()
