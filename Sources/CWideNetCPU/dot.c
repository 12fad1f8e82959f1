#include "CWideNetCPU.h"
#include "vector_math.h"

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

WN_INSTANTIATE(WN_DOT, dot)

float wn_dot_f32(int isa, const float *a, const float *b, long n) { return WN_PICK(isa, dot)(a, b, n); }
