#include "CWideNetCPU.h"
#include "philox_normal.h"
#include "philox_normal_f32.h"
#include "vector_math.h"

// Groups g0 … g0 + count − 1, four normals each: Box–Muller in float (philox_normal_f32.h) for
// float outputs, in double for double ones; stored as value · scale (a double rounded to float first).
#define WN_NORMALS(NAME, TYPE, BOX_MULLER, ATTRIBUTES)                                                \
    ATTRIBUTES static void NAME(uint32_t k0, uint32_t k1, uint32_t stream, uint32_t step, uint64_t g0, \
                                long count, TYPE scale, TYPE *out) {                                  \
        WN_ELEMENTWISE                                                                                \
        for (long i = 0; i < count; i++) {                                                            \
            uint64_t g = g0 + (uint64_t)i;                                                            \
            uint32_t w[4];                                                                            \
            wn_philox_block((uint32_t)g, (uint32_t)(g >> 32), stream, step, k0, k1, w);               \
            TYPE a, b, c, d;                                                                          \
            BOX_MULLER(w[0], w[1], &a, &b);                                                           \
            BOX_MULLER(w[2], w[3], &c, &d);                                                           \
            out[4 * i] = a * scale; out[4 * i + 1] = b * scale;                                       \
            out[4 * i + 2] = c * scale; out[4 * i + 3] = d * scale;                                   \
        }                                                                                             \
    }

#define WN_NORMALS_F32(NAME, ATTRIBUTES) WN_NORMALS(NAME, float, wn_box_muller_f32, ATTRIBUTES)
#define WN_NORMALS_F64(NAME, ATTRIBUTES) WN_NORMALS(NAME, double, wn_box_muller, ATTRIBUTES)
WN_INSTANTIATE(WN_NORMALS_F32, normals_f32)
WN_INSTANTIATE(WN_NORMALS_F64, normals_f64)

void wn_philox_normals_f32(int isa, uint32_t k0, uint32_t k1, uint32_t stream, uint32_t step, uint64_t g0, long groups,
                           float scale, float *out) {
    WN_PICK(isa, normals_f32)(k0, k1, stream, step, g0, groups, scale, out);
}

void wn_philox_normals_f64(int isa, uint32_t k0, uint32_t k1, uint32_t stream, uint32_t step, uint64_t g0, long groups,
                           double scale, double *out) {
    WN_PICK(isa, normals_f64)(k0, k1, stream, step, g0, groups, scale, out);
}
