#include "CWideNetCPU.h"
#include "vector_math.h"

// The NTK step's two products with their element work fused into the tiles, so that neither z nor
// the scaled masks ever reach memory: a tile of the forward product ends in its masks, relu and
// a-weighted sums while it is still in registers; the backward product builds its left factor
// S ⊙ e from the mask bits one panel at a time.
//
// Every element of a product is a chain of fused multiply-adds over k (or i) in order, and every
// other sum has a fixed lane layout of its own, so the tile shapes may differ between instruction
// sets (a register file's worth each) while all of them give the same bits.

typedef float wn_v8f __attribute__((vector_size(32)));
typedef int32_t wn_v8i __attribute__((vector_size(32)));
// Unaligned, aliasing views for loads and stores. Everything that handles a vector is a macro: a
// function passing one by value would have a different ABI in each variant.
typedef float wn_v8f_view __attribute__((vector_size(32), aligned(4), may_alias));

#define WN_LOAD8(p) (*(const wn_v8f_view *)(p))
#define WN_STORE8(p, v) (*(wn_v8f_view *)(p) = (v))
#define WN_SPLAT8(x) ((wn_v8f){(x), (x), (x), (x), (x), (x), (x), (x)})
#define WN_RELU_WHERE(z, active) ((wn_v8f)((wn_v8i)(z) & (active)))
// Bit l is lane l's compare: one movemask on AVX, two on SSE, a loop elsewhere.
#if defined(__x86_64__)
#include <immintrin.h>
#define WN_LANE_BITS_WIDE(m) ((uint32_t)_mm256_movemask_ps((__m256)(m)))
#define WN_LANE_BITS_BASE(m)                                                              \
    ((uint32_t)_mm_movemask_ps((__m128)__builtin_shufflevector((m), (m), 0, 1, 2, 3)) |   \
     (uint32_t)_mm_movemask_ps((__m128)__builtin_shufflevector((m), (m), 4, 5, 6, 7)) << 4)
#else
#define WN_LANE_BITS_BASE(m)                                                              \
    ({                                                                                    \
        uint32_t b_ = 0;                                                                  \
        for (int l_ = 0; l_ < 8; l_++) b_ |= (uint32_t)((m)[l_] & 1) << l_;               \
        b_;                                                                               \
    })
#endif

/// Sixteen lane sums added in a fixed tree.
static inline __attribute__((always_inline)) float wn_sum16(const float *s) {
    float h[8];
    for (int l = 0; l < 8; l++) h[l] = s[l] + s[l + 8];
    return ((h[0] + h[4]) + (h[1] + h[5])) + ((h[2] + h[6]) + (h[3] + h[7]));
}

// Tile shapes of each variant: ROWS samples (forward) or input columns (backward) by NV vectors
// of eight neurons, ROWS·NV accumulators: 12 of the 16 ymm registers for AVX2 (AVX-512 then has
// registers to spare), 6 of the 16 xmm pairs' worth for SSE2.
#ifndef WN_FWD_ROWS
#define WN_FWD_ROWS 6
#define WN_FWD_NV 2
#define WN_BWD_ROWS 6
#define WN_BWD_NV 2
#endif
enum { WN_ROWS_BASE = 3, WN_NV_BASE = 2 };
// acc + u·x rounded once: an FMA instruction on AVX2 and AVX-512, libm's correctly rounded fmaf
// lane by lane on the baseline (slow, but the same bits). Separate × and + would cost AVX2 an
// eighth of the step: its tiles then need twice the arithmetic µops beside the broadcasts.
#define WN_MADD(acc, u, x) ((acc) = __builtin_elementwise_fma((u), WN_SPLAT8(x), (acc)))
// Loops over a tile's rows and vectors unrolled, so that its accumulators live in registers.
#define WN_UNROLL _Pragma("clang loop unroll(full)")

long wn_ntk_rows(int isa) { return isa == WN_ISA_BASELINE ? WN_ROWS_BASE : WN_FWD_ROWS; }
static long wn_backward_rows(int isa) { return isa == WN_ISA_BASELINE ? WN_ROWS_BASE : WN_BWD_ROWS; }

long wn_ntk_forward_packed_floats(int isa, long n, long d) {
    long rows = wn_ntk_rows(isa);
    return (n + rows - 1) / rows * rows * d;
}

// Forward tiles broadcast x_ik for `rows` samples at each k: block b holds [k][row] of samples
// b·rows …, zero past n.
void wn_ntk_forward_pack_x(int isa, const float *x, long n, long d, float *packed) {
    long rows = wn_ntk_rows(isa);
    for (long b = 0; b * rows < n; b++)
        for (long k = 0; k < d; k++)
            for (long q = 0; q < rows; q++) {
                long i = b * rows + q;
                packed[(b * d + k) * rows + q] = i < n ? x[i * d + k] : 0.0f;
            }
}

// Backward tiles broadcast `rows` consecutive columns of a sample's row: rows of x padded with
// zeros to a multiple of `rows` columns.
static long wn_backward_stride(int isa, long d) { long rows = wn_backward_rows(isa); return (d + rows - 1) / rows * rows; }
long wn_ntk_backward_packed_floats(int isa, long n, long d) { return n * wn_backward_stride(isa, d); }
void wn_ntk_backward_pack_x(int isa, const float *x, long n, long d, float *packed) {
    long stride = wn_backward_stride(isa, d);
    for (long i = 0; i < n; i++)
        for (long k = 0; k < stride; k++) packed[i * stride + k] = k < d ? x[i * d + k] : 0.0f;
}

// A worker's scratch: a weight panel (32·d) or the backward pass's S ⊙ e panel (32·n), sixteen lane
// sums per sample (16·n), the panel's a (32), and ∇_a of the chunk (its width).
static long wn_panel_room(long n, long d) { return 32 * (d > n ? d : n); }
static long wn_forward_scratch(long n, long d) { return wn_panel_room(n, d) + 16 * n + 32; }
long wn_ntk_scratch_floats(long n, long d, long width) { return wn_forward_scratch(n, d) + width; }

// Neurons r0 … r0+PW−1 of w (width×d rows) as a [k][PW] panel, zero past the width; their a likewise
// when a is given.
static inline __attribute__((always_inline)) long wn_pack_panel(const float *w, const float *a, long d, long width, long r0,
                                                                long pw, float *panel, float *ap) {
    long valid = width - r0 < pw ? width - r0 : pw;
    for (long k = 0; k < d; k++)
        for (long l = 0; l < pw; l++) panel[k * pw + l] = l < valid ? w[(r0 + l) * d + k] : 0.0f;
    if (a)
        for (long l = 0; l < pw; l++) ap[l] = l < valid ? a[r0 + l] : 0.0f;
    return valid;
}

// z for ROWS samples × 8·NV neurons: c[q][v] holds neurons 8v … 8v+7 of sample q.
#define WN_FORWARD_TILE(ROWS, NV, xb, panel, d, c)                                   \
    wn_v8f c[ROWS][NV];                                                              \
    WN_UNROLL for (int q = 0; q < ROWS; q++)                                                   \
        WN_UNROLL for (int v = 0; v < NV; v++) c[q][v] = (wn_v8f){0};                          \
    for (long k = 0; k < (d); k++) {                                                 \
        wn_v8f wv[NV];                                                               \
        WN_UNROLL for (int v = 0; v < NV; v++) wv[v] = WN_LOAD8((panel) + (k * NV + v) * 8);   \
        WN_UNROLL for (int q = 0; q < ROWS; q++) {                                             \
            float xv = (xb)[k * ROWS + q];                                           \
            WN_UNROLL for (int v = 0; v < NV; v++) WN_MADD(c[q][v], wv[v], xv);                      \
        }                                                                            \
    }

// One chunk of neurons (starting at a multiple of 32 of the block, so it owns whole mask words):
// masks (row stride `words`, from the chunk's first word) and partial[i] = Σ_r a_r relu(z_ir), each
// sample's sum in sixteen lanes (lane l: neurons ≡ l mod 16, in order) and then a fixed tree.
#define WN_NTK_FORWARD(NAME, ATTRIBUTES, ROWS, NV, BITS)                                                  \
    ATTRIBUTES static void NAME(const float *xp, long n, long d, const float *w, const float *a, long width, \
                                uint32_t *masks, long words, float *partial, float *scratch) {           \
        enum { PW = 8 * NV };                                                                              \
        float *panel = scratch, *acc = scratch + wn_panel_room(n, d), *ap = acc + 16 * n;                  \
        for (long i = 0; i < 16 * n; i++) acc[i] = 0.0f;                                                   \
        long panels = (width + PW - 1) / PW;                                                               \
        for (long p = 0; p < panels; p++) {                                                                \
            long valid = wn_pack_panel(w, a, d, width, p * PW, PW, panel, ap);                             \
            uint32_t keep = valid == 32 ? 0xffffffffu : (1u << valid) - 1u;                                \
            wn_v8f av[NV];                                                                                 \
            WN_UNROLL for (int v = 0; v < NV; v++) av[v] = WN_LOAD8(ap + 8 * v);                                     \
            for (long i0 = 0; i0 < n; i0 += ROWS) {                                                        \
                const float *xb = xp + i0 * d;                                                             \
                WN_FORWARD_TILE(ROWS, NV, xb, panel, d, c)                                                 \
                for (int q = 0; q < ROWS && i0 + q < n; q++) {                                             \
                    long i = i0 + q;                                                                       \
                    uint32_t bits = 0;                                                                     \
                    WN_UNROLL for (int v = 0; v < NV; v++) {                                                         \
                        wn_v8i on = c[q][v] >= 0.0f; /* NaN inactive */                                    \
                        float *lanes = acc + i * 16 + 8 * (v & 1);                                         \
                        WN_STORE8(lanes, WN_LOAD8(lanes) + av[v] * WN_RELU_WHERE(c[q][v], on));           \
                        bits |= BITS(on) << (8 * v);                                                       \
                    }                                                                                      \
                    bits &= keep;                                                                          \
                    memcpy((char *)(masks + i * words) + p * (PW / 8), &bits, PW / 8);                     \
                }                                                                                          \
            }                                                                                              \
        }                                                                                                  \
        long written = panels * (PW / 8), owned = (width + 31) / 32 * 4;                                   \
        for (long i = 0; i < n; i++)                                                                       \
            if (written < owned) memset((char *)(masks + i * words) + written, 0, (size_t)(owned - written)); \
        for (long i = 0; i < n; i++) partial[i] = wn_sum16(acc + i * 16);                                  \
    }

// ga[r] = Σ_i e_i relu(z_ir) over the chunk, each neuron's sum over i in order.
#define WN_NTK_OUTPUT_GRADIENT(NAME, ATTRIBUTES, ROWS, NV)                                                  \
    ATTRIBUTES static void NAME(const float *xp, long n, long d, const float *w, long width, const float *e, \
                                float *ga, float *scratch) {                                               \
        enum { PW = 8 * NV };                                                                              \
        float *panel = scratch;                                                                            \
        for (long p = 0; p * PW < width; p++) {                                                            \
            long valid = wn_pack_panel(w, 0, d, width, p * PW, PW, panel, 0);                              \
            wn_v8f g[NV];                                                                                  \
            WN_UNROLL for (int v = 0; v < NV; v++) g[v] = (wn_v8f){0};                                               \
            for (long i0 = 0; i0 < n; i0 += ROWS) {                                                        \
                const float *xb = xp + i0 * d;                                                             \
                WN_FORWARD_TILE(ROWS, NV, xb, panel, d, c)                                                 \
                for (int q = 0; q < ROWS && i0 + q < n; q++)                                               \
                    WN_UNROLL for (int v = 0; v < NV; v++) g[v] += WN_RELU_WHERE(c[q][v], c[q][v] >= 0.0f) * e[i0 + q]; \
            }                                                                                              \
            float out[PW];                                                                                 \
            WN_UNROLL for (int v = 0; v < NV; v++) WN_STORE8(out + 8 * v, g[v]);                                     \
            for (long l = 0; l < valid; l++) ga[p * PW + l] = out[l];                                      \
        }                                                                                                  \
    }

// w_r ← w_r − (scale·a_r) Σ_i S_ir e_i x_i for the chunk's neurons, 8·NV neurons × ROWS columns a
// tile, each element's sum over i in order. The panel of S ⊙ e (n × 8·NV) is expanded from the
// mask bits once and serves every column block.
#define WN_NTK_BACKWARD(NAME, ATTRIBUTES, ROWS, NV)                                                           \
    ATTRIBUTES static void NAME(const float *xr, long n, long d, float *w, const float *a, long width,       \
                                const uint32_t *masks, long words, const float *e, float scale, float *scratch) { \
        enum { PW = 8 * NV };                                                                                 \
        float *se = scratch, *ap = scratch + wn_panel_room(n, d) + 16 * n;                                    \
        long stride = (d + ROWS - 1) / ROWS * ROWS;                                                           \
        const wn_v8i lanes = {1, 2, 4, 8, 16, 32, 64, 128};                                                   \
        for (long p = 0; p * PW < width; p++) {                                                               \
            long r0 = p * PW, valid = width - r0 < PW ? width - r0 : PW;                                      \
            uint32_t keep = valid == 32 ? 0xffffffffu : (1u << valid) - 1u;                                   \
            for (long i = 0; i < n; i++) {                                                                    \
                uint32_t bits = 0;                                                                            \
                memcpy(&bits, (const char *)(masks + i * words) + p * (PW / 8), PW / 8);                      \
                bits &= keep;                                                                                 \
                wn_v8f ev = WN_SPLAT8(e[i]);                                                               \
                WN_UNROLL for (int v = 0; v < NV; v++) {                                                                \
                    wn_v8i on = (((wn_v8i){0} + (int32_t)(bits >> (8 * v))) & lanes) != 0;                    \
                    WN_STORE8(se + i * PW + 8 * v, WN_RELU_WHERE(ev, on));                                    \
                }                                                                                             \
            }                                                                                                 \
            for (long l = 0; l < PW; l++) ap[l] = l < valid ? scale * a[r0 + l] : 0.0f;                       \
            for (long k0 = 0; k0 < d; k0 += ROWS) {                                                           \
                wn_v8f c[ROWS][NV];                                                                           \
                WN_UNROLL for (int q = 0; q < ROWS; q++)                                                                \
                    WN_UNROLL for (int v = 0; v < NV; v++) c[q][v] = (wn_v8f){0};                                       \
                for (long i = 0; i < n; i++) {                                                                \
                    wn_v8f sv[NV];                                                                            \
                    WN_UNROLL for (int v = 0; v < NV; v++) sv[v] = WN_LOAD8(se + i * PW + 8 * v);                       \
                    const float *xi = xr + i * stride + k0;                                                   \
                    WN_UNROLL for (int q = 0; q < ROWS; q++)                                                            \
                        WN_UNROLL for (int v = 0; v < NV; v++) WN_MADD(c[q][v], sv[v], xi[q]);                                \
                }                                                                                             \
                float g[ROWS][PW];                                                                            \
                WN_UNROLL for (int q = 0; q < ROWS; q++)                                                                \
                    WN_UNROLL for (int v = 0; v < NV; v++) WN_STORE8(g[q] + 8 * v, c[q][v] * WN_LOAD8(ap + 8 * v));     \
                long cols = d - k0 < ROWS ? d - k0 : ROWS;                                                    \
                for (long l = 0; l < valid; l++) {                                                            \
                    float *row = w + (r0 + l) * d + k0;                                                       \
                    for (long q = 0; q < cols; q++) row[q] -= g[q][l];                                        \
                }                                                                                             \
            }                                                                                                 \
        }                                                                                                     \
    }

#define WN_NTK_FORWARD_WIDE(NAME, ATTRIBUTES) WN_NTK_FORWARD(NAME, ATTRIBUTES, WN_FWD_ROWS, WN_FWD_NV, WN_LANE_BITS_WIDE)
#define WN_NTK_FORWARD_BASE(NAME, ATTRIBUTES) WN_NTK_FORWARD(NAME, ATTRIBUTES, WN_ROWS_BASE, WN_NV_BASE, WN_LANE_BITS_BASE)
#define WN_NTK_OUTPUT_GRADIENT_WIDE(NAME, ATTRIBUTES) WN_NTK_OUTPUT_GRADIENT(NAME, ATTRIBUTES, WN_FWD_ROWS, WN_FWD_NV)
#define WN_NTK_OUTPUT_GRADIENT_BASE(NAME, ATTRIBUTES) WN_NTK_OUTPUT_GRADIENT(NAME, ATTRIBUTES, WN_ROWS_BASE, WN_NV_BASE)
#define WN_NTK_BACKWARD_WIDE(NAME, ATTRIBUTES) WN_NTK_BACKWARD(NAME, ATTRIBUTES, WN_BWD_ROWS, WN_BWD_NV)
#define WN_NTK_BACKWARD_BASE(NAME, ATTRIBUTES) WN_NTK_BACKWARD(NAME, ATTRIBUTES, WN_ROWS_BASE, WN_NV_BASE)

// The wide tiles for AVX-512 and AVX2, the narrow ones for the baseline.
#if defined(__x86_64__)
#define WN_INSTANTIATE_TILED(FAMILY, NAME)                                                                \
    FAMILY##_WIDE(NAME##_avx512, __attribute__((target("avx512f,avx512dq,avx512bw,avx512vl,avx2,fma")))) \
    FAMILY##_WIDE(NAME##_avx2, __attribute__((target("avx2,fma"))))                                     \
    FAMILY##_BASE(NAME##_baseline, )
#else
#define WN_INSTANTIATE_TILED(FAMILY, NAME) FAMILY##_BASE(NAME##_baseline, )
#endif

WN_INSTANTIATE_TILED(WN_NTK_FORWARD, ntk_forward)
WN_INSTANTIATE_TILED(WN_NTK_OUTPUT_GRADIENT, ntk_output_gradient)
WN_INSTANTIATE_TILED(WN_NTK_BACKWARD, ntk_backward)

void wn_ntk_forward_chunk_f32(int isa, const float *xp, long n, long d, const float *w, const float *a, long width,
                              uint32_t *masks, long words, float *partial, float *scratch) {
    WN_PICK(isa, ntk_forward)(xp, n, d, w, a, width, masks, words, partial, scratch);
}

void wn_ntk_backward_chunk_f32(int isa, const float *xp, const float *xr, long n, long d, float *w, float *a, long width,
                               const uint32_t *masks, long words, const float *e, float scale, int train_output,
                               float *scratch) {
    float *ga = scratch + wn_forward_scratch(n, d);
    // ∇_a at the old w, before the rows move.
    if (train_output) WN_PICK(isa, ntk_output_gradient)(xp, n, d, w, width, e, ga, scratch);
    WN_PICK(isa, ntk_backward)(xr, n, d, w, a, width, masks, words, e, scale, scratch);
    if (train_output)
        for (long r = 0; r < width; r++) a[r] -= scale * ga[r];
}
