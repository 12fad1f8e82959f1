#include "CWideNetCPU.h"
#include "vector_math.h"

// One definition of each loop, instantiated per instruction set through the target attribute.
#define WN_TANH_LOOP(NAME, ATTRIBUTES)                                           \
    ATTRIBUTES static void NAME(const float *in, float *out, long n) {           \
        WN_ELEMENTWISE                                                           \
        for (long i = 0; i < n; i++) out[i] = wn_tanhf(in[i]);                   \
    }

#if defined(__x86_64__)
WN_TANH_LOOP(tanh_avx512, __attribute__((target("avx512f,avx512dq,avx512bw,avx512vl,avx2,fma"))))
WN_TANH_LOOP(tanh_avx2, __attribute__((target("avx2,fma"))))
#endif
WN_TANH_LOOP(tanh_baseline, )

void wn_tanh_f32(int isa, const float *in, float *out, long n) {
#if defined(__x86_64__)
    if (isa == WN_ISA_AVX512) { tanh_avx512(in, out, n); return; }
    if (isa == WN_ISA_AVX2) { tanh_avx2(in, out, n); return; }
#endif
    (void)isa;
    tanh_baseline(in, out, n);
}
