#include "CWideNetCPU.h"
#include "vector_math.h"

// One definition of each loop, instantiated per instruction set through the target attribute.
#define WN_TANH_LOOP(NAME, ATTRIBUTES)                                           \
    ATTRIBUTES static void NAME(const float *in, float *out, long n) {           \
        WN_ELEMENTWISE                                                           \
        for (long i = 0; i < n; i++) out[i] = wn_tanhf(in[i]);                   \
    }

WN_INSTANTIATE(WN_TANH_LOOP, tanh)

void wn_tanh_f32(int isa, const float *in, float *out, long n) { WN_PICK(isa, tanh)(in, out, n); }
