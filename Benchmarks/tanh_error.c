// The largest error of WideNet's vectorised tanh over every float, for each instruction set this
// processor runs, in units in the last place against tanh computed in double and rounded.
//   bash Benchmarks/tanh_error.sh
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "CWideNetCPU.h"

static int64_t ordered(float f) {  // floats as integers in their order, so that a difference counts ulps
    int32_t b; memcpy(&b, &f, 4);
    return b < 0 ? -(int64_t)(b & 0x7fffffff) : (int64_t)b;
}

int main(void) {
    const char *names[] = {"avx512", "avx2", "baseline"};
    enum { CHUNK = 1 << 20 };
    float *in = malloc(CHUNK * sizeof *in), *out = malloc(CHUNK * sizeof *out);
    printf("{\"inputs\": 4294967296, \"reference\": \"(float) tanh((double) x)\", \"variants\": [");
    int first = 1;
    for (int isa = 0; isa < WN_ISA_COUNT; isa++) {
        if (!wn_isa_supported(isa)) continue;
        int64_t worst = 0; float at = 0; uint64_t nanWrong = 0, off = 0;
        for (uint64_t base = 0; base < (1ull << 32); base += CHUNK) {
            for (uint32_t i = 0; i < CHUNK; i++) { uint32_t b = (uint32_t)(base + i); memcpy(&in[i], &b, 4); }
            wn_tanh_f32(isa, in, out, CHUNK);
            for (uint32_t i = 0; i < CHUNK; i++) {
                float x = in[i], want = (float)tanh((double)x);
                if (isnan(x)) { nanWrong += !isnan(out[i]); continue; }
                int64_t e = llabs(ordered(out[i]) - ordered(want));
                if (e > 0) off++;
                if (e > worst) { worst = e; at = x; }
            }
        }
        printf("%s{\"isa\": \"%s\", \"max_ulp\": %lld, \"at\": %.9g, \"inexact_inputs\": %llu, \"nan_not_kept\": %llu}",
               first ? "" : ", ", names[isa], (long long)worst, at, (unsigned long long)off, (unsigned long long)nanWrong);
        first = 0;
        fflush(stdout);
    }
    printf("]}\n");
    return 0;
}
