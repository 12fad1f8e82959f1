#include "CWideNetCPU.h"
#include "philox_normal.h"
#include "vector_math.h"

// Groups g0 … g0 + count − 1, four normals each, stored as TYPE(value) · scale (round to TYPE first).
#define WN_NORMALS(NAME, TYPE, ATTRIBUTES)                                                            \
    ATTRIBUTES static void NAME(uint32_t k0, uint32_t k1, uint32_t stream, uint32_t step, uint64_t g0, \
                                long count, TYPE scale, TYPE *out) {                                  \
        WN_ELEMENTWISE                                                                                \
        for (long i = 0; i < count; i++) {                                                            \
            uint64_t g = g0 + (uint64_t)i;                                                            \
            uint32_t w[4];                                                                            \
            wn_philox_block((uint32_t)g, (uint32_t)(g >> 32), stream, step, k0, k1, w);               \
            double a, b, c, d;                                                                        \
            wn_box_muller(w[0], w[1], &a, &b);                                                        \
            wn_box_muller(w[2], w[3], &c, &d);                                                        \
            out[4 * i] = (TYPE)a * scale; out[4 * i + 1] = (TYPE)b * scale;                           \
            out[4 * i + 2] = (TYPE)c * scale; out[4 * i + 3] = (TYPE)d * scale;                       \
        }                                                                                             \
    }

#define WN_NORMALS_F32(NAME, ATTRIBUTES) WN_NORMALS(NAME, float, ATTRIBUTES)
#define WN_NORMALS_F64(NAME, ATTRIBUTES) WN_NORMALS(NAME, double, ATTRIBUTES)
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
