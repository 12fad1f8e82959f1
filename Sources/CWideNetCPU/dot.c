#include "CWideNetCPU.h"

// Σ a_i b_i in eight lanes (lane l sums the i ≡ l mod 8, in order), added in a fixed tree: the same
// bits from AVX-512, AVX2 and SSE2 code, and independent of how the compiler splits the lanes.
#define WN_DOT(NAME, ATTRIBUTES)                                                            \
    ATTRIBUTES static float NAME(const float *a, const float *b, long n) {                 \
        float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};                                             \
        long full = n - n % 8;                                                               \
        for (long i = 0; i < full; i += 8)                                                   \
            for (int l = 0; l < 8; l++) acc[l] += a[i + l] * b[i + l];                       \
        for (long i = full; i < n; i++) acc[i - full] += a[i] * b[i];                        \
        return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])); \
    }

#if defined(__x86_64__)
WN_DOT(dot_avx512, __attribute__((target("avx512f,avx512dq,avx512bw,avx512vl,avx2,fma"))))
WN_DOT(dot_avx2, __attribute__((target("avx2,fma"))))
#endif
WN_DOT(dot_baseline, )

float wn_dot_f32(int isa, const float *a, const float *b, long n) {
#if defined(__x86_64__)
    if (isa == WN_ISA_AVX512) return dot_avx512(a, b, n);
    if (isa == WN_ISA_AVX2) return dot_avx2(a, b, n);
#endif
    (void)isa;
    return dot_baseline(a, b, n);
}
