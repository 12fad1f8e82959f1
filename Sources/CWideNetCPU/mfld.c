#include "CWideNetCPU.h"
#include "vector_math.h"

// The mean-field units' element work over a chunk of particles (B rows × cw particles of z): each
// element alone, each particle's sums over the rows in row order, so every variant gives the same
// bits as the plain Swift loops they replace.

// z ← max(z + b, 0) as Swift's max(v, 0) has it: 0 > v ? 0 : v (NaN stays NaN).
#define WN_BIASED_RELU(NAME, ATTRIBUTES)                                                 \
    ATTRIBUTES static void NAME(float *z, long rows, long cw, const float *bias) {       \
        for (long j = 0; j < rows; j++) {                                                \
            float *row = z + j * cw;                                                     \
            WN_ELEMENTWISE                                                               \
            for (long r = 0; r < cw; r++) {                                              \
                float v = row[r] + bias[r];                                              \
                row[r] = 0.0f > v ? 0.0f : v;                                            \
            }                                                                            \
        }                                                                                \
    }

// relu units' gradient factors: with v = z + b, z ← dz = 1{v ≥ 0}·c_j·a, gb += dz, ga += c_j·relu(v).
#define WN_RELU_GRADIENTS(NAME, ATTRIBUTES)                                                              \
    ATTRIBUTES static void NAME(float *z, long rows, long cw, const float *bias, const float *a, const float *c, \
                                float *gb, float *ga) {                                                  \
        for (long j = 0; j < rows; j++) {                                                                \
            float *row = z + j * cw, cj = c[j];                                                          \
            WN_ELEMENTWISE                                                                               \
            for (long r = 0; r < cw; r++) {                                                              \
                float v = row[r] + bias[r];                                                              \
                float sg = 0.0f > v ? 0.0f : v, dz = v >= 0.0f ? cj * a[r] : 0.0f;                       \
                row[r] = dz;                                                                             \
                gb[r] += dz;                                                                             \
                ga[r] += cj * sg;                                                                        \
            }                                                                                            \
        }                                                                                                \
    }

// tanh-like units from t = tanh(z + b) already in z: z ← dz = c_j·outer_r·(1 − t²), gb += dz,
// ga += c_j·slope_r·t.
#define WN_TANH_GRADIENTS(NAME, ATTRIBUTES)                                                                    \
    ATTRIBUTES static void NAME(float *z, long rows, long cw, const float *outer, const float *slope, const float *c, \
                                float *gb, float *ga) {                                                        \
        for (long j = 0; j < rows; j++) {                                                                      \
            float *row = z + j * cw, cj = c[j];                                                                \
            WN_ELEMENTWISE                                                                                     \
            for (long r = 0; r < cw; r++) {                                                                    \
                float t = row[r], dz = cj * outer[r] * (1.0f - t * t);                                         \
                row[r] = dz;                                                                                   \
                gb[r] += dz;                                                                                   \
                ga[r] += cj * slope[r] * t;                                                                    \
            }                                                                                                  \
        }                                                                                                      \
    }

WN_INSTANTIATE(WN_BIASED_RELU, biased_relu)
WN_INSTANTIATE(WN_RELU_GRADIENTS, relu_gradients)
WN_INSTANTIATE(WN_TANH_GRADIENTS, tanh_gradients)

void wn_biased_relu_f32(int isa, float *z, long rows, long cw, const float *bias) { WN_PICK(isa, biased_relu)(z, rows, cw, bias); }
void wn_relu_gradients_f32(int isa, float *z, long rows, long cw, const float *bias, const float *a, const float *c, float *gb,
                           float *ga) {
    WN_PICK(isa, relu_gradients)(z, rows, cw, bias, a, c, gb, ga);
}
void wn_tanh_gradients_f32(int isa, float *z, long rows, long cw, const float *outer, const float *slope, const float *c,
                           float *gb, float *ga) {
    WN_PICK(isa, tanh_gradients)(z, rows, cw, outer, slope, c, gb, ga);
}
