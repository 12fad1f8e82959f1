#include "CWideNetCPU.h"

int wn_isa_supported(int isa) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    switch (isa) {
    case WN_ISA_AVX512:
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
               __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
               __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case WN_ISA_AVX2: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case WN_ISA_BASELINE: return 1;
    default: return 0;
    }
#else
    return isa == WN_ISA_BASELINE;
#endif
}
