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
typedef float wn_v16f __attribute__((vector_size(64)));
typedef int32_t wn_v16i __attribute__((vector_size(64)));
// Unaligned, aliasing views for loads and stores. Everything that handles a vector is a macro: a
// function passing one by value would have a different ABI in each variant. V (8 or 16) is the
// number of lanes a vector of the tile has: 16 on AVX-512, 8 elsewhere.
typedef float wn_v8f_view __attribute__((vector_size(32), aligned(4), may_alias));
typedef float wn_v16f_view __attribute__((vector_size(64), aligned(4), may_alias));

#define WN_VF(V) wn_v##V##f
#define WN_VI(V) wn_v##V##i
#define WN_LOAD(V, p) (*(const wn_v##V##f_view *)(p))
#define WN_STORE(V, p, v) (*(wn_v##V##f_view *)(p) = (v))
// A broadcast written out lane by lane: {0} + x would be a rounded addition (0 + −0 is +0) that
// the compiler must keep, a scalar add before every broadcast.
#define WN_SPLAT8(x) ((wn_v8f){(x), (x), (x), (x), (x), (x), (x), (x)})
#define WN_SPLAT16(x) ((wn_v16f){(x), (x), (x), (x), (x), (x), (x), (x), (x), (x), (x), (x), (x), (x), (x), (x)})
#define WN_SPLAT(V, x) WN_SPLAT##V(x)
#define WN_RELU_WHERE(V, z, active) ((WN_VF(V))((WN_VI(V))(z) & (active)))
// WN_LANE_ONES<V>[l] = 1 << l, to expand V mask bits into lanes.
#define WN_LANE_ONES8 ((wn_v8i){1, 2, 4, 8, 16, 32, 64, 128})
#define WN_LANE_ONES16 ((wn_v16i){1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768})
// Bit l is lane l's compare: one movemask on AVX-512 and AVX, two on SSE, a loop elsewhere.
#if defined(__x86_64__)
#include <immintrin.h>
#define WN_LANE_BITS_512(m) ((uint32_t)_mm512_movepi32_mask((__m512i)(m)))
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

// Tile shapes of each variant: ROWS samples (forward) or input columns (backward) by NV vectors of
// V neurons, ROWS·NV accumulators: AVX-512 24 (forward) and 16 (backward) of its 32 zmm registers,
// AVX2 12 of its 16 ymm, the baseline 6 of its 16 xmm pairs' worth. A panel is V·NV neurons: 32
// (one mask word) on AVX-512, 16 elsewhere.
enum { WN_FWD_ROWS_512 = 12, WN_BWD_ROWS_512 = 16, WN_NV_512 = 2, WN_BWD_NEURONS_512 = 4, WN_BWD_VECTORS_512 = 4 };
enum { WN_FWD_ROWS_AVX2 = 6, WN_BWD_ROWS_AVX2 = 6, WN_NV_AVX2 = 2 };
enum { WN_ROWS_BASE = 3, WN_NV_BASE = 2 };
// acc + u·x rounded once: an FMA instruction on AVX2 and AVX-512, libm's correctly rounded fmaf
// lane by lane on the baseline (slow, but the same bits). Separate × and + would cost AVX2 an
// eighth of the step: its tiles then need twice the arithmetic µops beside the broadcasts.
#define WN_MADD(V, acc, u, x) ((acc) = __builtin_elementwise_fma((u), WN_SPLAT(V, x), (acc)))
// Loops over a tile's rows and vectors unrolled, so that its accumulators live in registers.
#define WN_UNROLL _Pragma("clang loop unroll(full)")

long wn_ntk_rows(int isa) {
    return isa == WN_ISA_AVX512 ? WN_FWD_ROWS_512 : isa == WN_ISA_AVX2 ? WN_FWD_ROWS_AVX2 : WN_ROWS_BASE;
}
static long wn_backward_rows(int isa) {
    return isa == WN_ISA_AVX512 ? WN_BWD_ROWS_512 : isa == WN_ISA_AVX2 ? WN_BWD_ROWS_AVX2 : WN_ROWS_BASE;
}

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

// Backward tiles broadcast `rows` consecutive columns of a sample's row (AVX2, baseline) or load
// them as vectors (AVX-512): rows of x padded with zeros to a multiple of `rows` (or 16) columns.
static long wn_backward_stride(int isa, long d) {
    long unit = isa == WN_ISA_AVX512 ? 16 : wn_backward_rows(isa);  // AVX-512: whole vectors of a row
    return (d + unit - 1) / unit * unit;
}
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

#define WN_SHUFFLE8(a, b, ...) __builtin_shufflevector((a), (b), __VA_ARGS__)

// Neurons r0 … r0+PW−1 of w (width×d rows) as a [k][PW] panel, zero past the width; their a likewise
// when a is given. A full panel is transposed 8 × 8 in registers (the unpack / shuffle / lane-swap
// stages of AVX), the columns past the last multiple of 8 and a cut panel one value at a time.
static inline __attribute__((always_inline)) long wn_pack_panel(const float *w, const float *a, long d, long width, long r0,
                                                                long pw, float *panel, float *ap) {
    long valid = width - r0 < pw ? width - r0 : pw;
    long k8 = valid == pw ? d / 8 * 8 : 0;
    for (long l0 = 0; l0 < pw && k8 > 0; l0 += 8)
        for (long k0 = 0; k0 < k8; k0 += 8) {
            wn_v8f r[8], t[8], u[8];
            WN_UNROLL for (int i = 0; i < 8; i++) r[i] = WN_LOAD(8, w + (r0 + l0 + i) * d + k0);
            WN_UNROLL for (int i = 0; i < 8; i += 2) {
                t[i] = WN_SHUFFLE8(r[i], r[i + 1], 0, 8, 1, 9, 4, 12, 5, 13);
                t[i + 1] = WN_SHUFFLE8(r[i], r[i + 1], 2, 10, 3, 11, 6, 14, 7, 15);
            }
            WN_UNROLL for (int h = 0; h < 8; h += 4) {
                u[h] = WN_SHUFFLE8(t[h], t[h + 2], 0, 1, 8, 9, 4, 5, 12, 13);
                u[h + 1] = WN_SHUFFLE8(t[h], t[h + 2], 2, 3, 10, 11, 6, 7, 14, 15);
                u[h + 2] = WN_SHUFFLE8(t[h + 1], t[h + 3], 0, 1, 8, 9, 4, 5, 12, 13);
                u[h + 3] = WN_SHUFFLE8(t[h + 1], t[h + 3], 2, 3, 10, 11, 6, 7, 14, 15);
            }
            // u[j] (j < 4) holds column j of rows 0-3 and column j + 4 of rows 0-3 in its halves; u[j + 4] rows 4-7.
            WN_UNROLL for (int j = 0; j < 4; j++) {
                WN_STORE(8, panel + (k0 + j) * pw + l0, WN_SHUFFLE8(u[j], u[j + 4], 0, 1, 2, 3, 8, 9, 10, 11));
                WN_STORE(8, panel + (k0 + j + 4) * pw + l0, WN_SHUFFLE8(u[j], u[j + 4], 4, 5, 6, 7, 12, 13, 14, 15));
            }
        }
    for (long k = k8; k < d; k++)
        for (long l = 0; l < pw; l++) panel[k * pw + l] = l < valid ? w[(r0 + l) * d + k] : 0.0f;
    if (a)
        for (long l = 0; l < pw; l++) ap[l] = l < valid ? a[r0 + l] : 0.0f;
    return valid;
}

// z for ROWS samples × V·NV neurons: c[q][v] holds neurons V·v … V·v+V−1 of sample q.
#define WN_FORWARD_TILE(V, ROWS, NV, xb, panel, d, c)                                \
    WN_VF(V) c[ROWS][NV];                                                            \
    WN_UNROLL for (int q = 0; q < ROWS; q++)                                         \
        WN_UNROLL for (int v = 0; v < NV; v++) c[q][v] = (WN_VF(V)){0};              \
    for (long k = 0; k < (d); k++) {                                                 \
        WN_VF(V) wv[NV];                                                             \
        WN_UNROLL for (int v = 0; v < NV; v++) wv[v] = WN_LOAD(V, (panel) + (k * NV + v) * V); \
        WN_UNROLL for (int q = 0; q < ROWS; q++) {                                   \
            float xv = (xb)[k * ROWS + q];                                           \
            WN_UNROLL for (int v = 0; v < NV; v++) WN_MADD(V, c[q][v], wv[v], xv);   \
        }                                                                            \
    }

// One chunk of neurons (starting at a multiple of 32 of the block, so it owns whole mask words):
// masks (row stride `words`, from the chunk's first word) and partial[i] = Σ_r a_r relu(z_ir), each
// sample's sum in sixteen lanes (lane l: neurons ≡ l mod 16, in order) and then a fixed tree.
#define WN_NTK_FORWARD(NAME, ATTRIBUTES, V, ROWS, NV, BITS)                                               \
    ATTRIBUTES static void NAME(const float *xp, long n, long d, const float *w, const float *a, long width, \
                                uint32_t *masks, long words, float *partial, float *scratch) {           \
        enum { PW = V * NV };                                                                              \
        float *panel = scratch, *acc = scratch + wn_panel_room(n, d), *ap = acc + 16 * n;                  \
        for (long i = 0; i < 16 * n; i++) acc[i] = 0.0f;                                                   \
        long panels = (width + PW - 1) / PW;                                                               \
        for (long p = 0; p < panels; p++) {                                                                \
            long valid = wn_pack_panel(w, a, d, width, p * PW, PW, panel, ap);                             \
            uint32_t keep = valid == 32 ? 0xffffffffu : (1u << valid) - 1u;                                \
            WN_VF(V) av[NV];                                                                               \
            WN_UNROLL for (int v = 0; v < NV; v++) av[v] = WN_LOAD(V, ap + V * v);                         \
            for (long i0 = 0; i0 < n; i0 += ROWS) {                                                        \
                const float *xb = xp + i0 * d;                                                             \
                WN_FORWARD_TILE(V, ROWS, NV, xb, panel, d, c)                                              \
                for (int q = 0; q < ROWS && i0 + q < n; q++) {                                             \
                    long i = i0 + q;                                                                       \
                    uint32_t bits = 0;                                                                     \
                    WN_UNROLL for (int v = 0; v < NV; v++) {                                               \
                        WN_VI(V) on = c[q][v] >= 0.0f; /* NaN inactive */                                  \
                        float *lanes = acc + i * 16 + (V * v) % 16;                                        \
                        WN_STORE(V, lanes, WN_LOAD(V, lanes) + av[v] * WN_RELU_WHERE(V, c[q][v], on));     \
                        bits |= BITS(on) << (V * v);                                                       \
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
#define WN_NTK_OUTPUT_GRADIENT(NAME, ATTRIBUTES, V, ROWS, NV)                                               \
    ATTRIBUTES static void NAME(const float *xp, long n, long d, const float *w, long width, const float *e, \
                                float *ga, float *scratch) {                                               \
        enum { PW = V * NV };                                                                              \
        float *panel = scratch;                                                                            \
        for (long p = 0; p * PW < width; p++) {                                                            \
            long valid = wn_pack_panel(w, 0, d, width, p * PW, PW, panel, 0);                              \
            WN_VF(V) g[NV];                                                                                \
            WN_UNROLL for (int v = 0; v < NV; v++) g[v] = (WN_VF(V)){0};                                   \
            for (long i0 = 0; i0 < n; i0 += ROWS) {                                                        \
                const float *xb = xp + i0 * d;                                                             \
                WN_FORWARD_TILE(V, ROWS, NV, xb, panel, d, c)                                              \
                for (int q = 0; q < ROWS && i0 + q < n; q++)                                               \
                    WN_UNROLL for (int v = 0; v < NV; v++)                                                 \
                        g[v] += WN_RELU_WHERE(V, c[q][v], c[q][v] >= 0.0f) * e[i0 + q];                    \
            }                                                                                              \
            float out[PW];                                                                                 \
            WN_UNROLL for (int v = 0; v < NV; v++) WN_STORE(V, out + V * v, g[v]);                         \
            for (long l = 0; l < valid; l++) ga[p * PW + l] = out[l];                                      \
        }                                                                                                  \
    }

// w_r ← w_r − (scale·a_r) Σ_i S_ir e_i x_i for the chunk's neurons, V·NV neurons × ROWS columns a
// tile, each element's sum over i in order. The panel of S ⊙ e (n × V·NV) is expanded from the
// mask bits once and serves every column block.
#define WN_NTK_BACKWARD(NAME, ATTRIBUTES, V, ROWS, NV)                                                        \
    ATTRIBUTES static void NAME(const float *xr, long n, long d, float *w, const float *a, long width,       \
                                const uint32_t *masks, long words, const float *e, float scale, float *scratch) { \
        enum { PW = V * NV };                                                                                 \
        float *se = scratch, *ap = scratch + wn_panel_room(n, d) + 16 * n;                                    \
        long stride = (d + ROWS - 1) / ROWS * ROWS;                                                           \
        const WN_VI(V) lanes = WN_LANE_ONES##V;                                                               \
        for (long p = 0; p * PW < width; p++) {                                                               \
            long r0 = p * PW, valid = width - r0 < PW ? width - r0 : PW;                                      \
            uint32_t keep = valid == 32 ? 0xffffffffu : (1u << valid) - 1u;                                   \
            for (long i = 0; i < n; i++) {                                                                    \
                uint32_t bits = 0;                                                                            \
                memcpy(&bits, (const char *)(masks + i * words) + p * (PW / 8), PW / 8);                      \
                bits &= keep;                                                                                 \
                WN_VF(V) ev = WN_SPLAT(V, e[i]);                                                              \
                WN_UNROLL for (int v = 0; v < NV; v++) {                                                      \
                    WN_VI(V) on = (((WN_VI(V)){0} + (int32_t)(bits >> (V * v))) & lanes) != 0;               \
                    WN_STORE(V, se + i * PW + V * v, WN_RELU_WHERE(V, ev, on));                               \
                }                                                                                             \
            }                                                                                                 \
            for (long l = 0; l < PW; l++) ap[l] = l < valid ? scale * a[r0 + l] : 0.0f;                       \
            for (long k0 = 0; k0 < d; k0 += ROWS) {                                                           \
                WN_VF(V) c[ROWS][NV];                                                                         \
                WN_UNROLL for (int q = 0; q < ROWS; q++)                                                      \
                    WN_UNROLL for (int v = 0; v < NV; v++) c[q][v] = (WN_VF(V)){0};                           \
                for (long i = 0; i < n; i++) {                                                                \
                    WN_VF(V) sv[NV];                                                                          \
                    WN_UNROLL for (int v = 0; v < NV; v++) sv[v] = WN_LOAD(V, se + i * PW + V * v);           \
                    const float *xi = xr + i * stride + k0;                                                   \
                    WN_UNROLL for (int q = 0; q < ROWS; q++)                                                  \
                        WN_UNROLL for (int v = 0; v < NV; v++) WN_MADD(V, c[q][v], sv[v], xi[q]);             \
                }                                                                                             \
                float g[ROWS][PW];                                                                            \
                WN_UNROLL for (int q = 0; q < ROWS; q++)                                                      \
                    WN_UNROLL for (int v = 0; v < NV; v++)                                                    \
                        WN_STORE(V, g[q] + V * v, c[q][v] * WN_LOAD(V, ap + V * v));                          \
                long cols = d - k0 < ROWS ? d - k0 : ROWS;                                                    \
                for (long l = 0; l < valid; l++) {                                                            \
                    float *row = w + (r0 + l) * d + k0;                                                       \
                    for (long q = 0; q < cols; q++) row[q] -= g[q][l];                                        \
                }                                                                                             \
            }                                                                                                 \
        }                                                                                                     \
    }

// The same update with the tile turned over for AVX-512: R neurons × KV vectors of 16 columns, the
// vectors loaded from x's rows and S ⊙ e broadcast, so that each tile row is a run of one neuron's
// weights, updated in place without a transposition. Each element's sum over i in order, the
// same fused multiply-adds as the tiles above (u·x = x·u), so the same bits.
#define WN_BWD_COLUMN_TILE(R, KV, r, kv0)                                                                   \
    {                                                                                                       \
        wn_v16f c[R][KV];                                                                                   \
        WN_UNROLL for (int q = 0; q < R; q++)                                                               \
            WN_UNROLL for (int v = 0; v < KV; v++) c[q][v] = (wn_v16f){0};                                  \
        for (long i = 0; i < n; i++) {                                                                      \
            wn_v16f xv[KV];                                                                                 \
            const float *xi = xr + i * stride + (kv0) * 16;                                                 \
            WN_UNROLL for (int v = 0; v < KV; v++) xv[v] = WN_LOAD(16, xi + 16 * v);                        \
            const float *sq = se + i * 32 + (r);                                                            \
            WN_UNROLL for (int q = 0; q < R; q++)                                                           \
                WN_UNROLL for (int v = 0; v < KV; v++) WN_MADD(16, c[q][v], xv[v], sq[q]);                  \
        }                                                                                                   \
        WN_UNROLL for (int q = 0; q < R; q++) {                                                             \
            if ((r) + q >= valid) break;                                                                    \
            float *row = w + (r0 + (r) + q) * d;                                                            \
            wn_v16f scaled = WN_SPLAT(16, ap[(r) + q]);                                                     \
            WN_UNROLL for (int v = 0; v < KV; v++) {                                                        \
                long k = ((kv0) + v) * 16;                                                                  \
                wn_v16f g = c[q][v] * scaled;                                                               \
                if (k + 16 <= d) {                                                                          \
                    WN_STORE(16, row + k, WN_LOAD(16, row + k) - g);                                        \
                } else {                                                                                    \
                    float gs[16];                                                                           \
                    WN_STORE(16, gs, g);                                                                    \
                    for (long t = 0; k + t < d; t++) row[k + t] -= gs[t];                                   \
                }                                                                                           \
            }                                                                                               \
        }                                                                                                   \
    }

#define WN_NTK_BACKWARD_512(NAME, ATTRIBUTES)                                                                \
    ATTRIBUTES static void NAME(const float *xr, long n, long d, float *w, const float *a, long width,       \
                                const uint32_t *masks, long words, const float *e, float scale, float *scratch) { \
        enum { R = WN_BWD_NEURONS_512, KV = WN_BWD_VECTORS_512 };                                             \
        float *se = scratch, *ap = scratch + wn_panel_room(n, d) + 16 * n;                                    \
        long stride = (d + 15) / 16 * 16, vectors = stride / 16;                                              \
        const wn_v16i lanes = WN_LANE_ONES16;                                                                 \
        for (long r0 = 0; r0 < width; r0 += 32) {                                                             \
            long valid = width - r0 < 32 ? width - r0 : 32;                                                   \
            uint32_t keep = valid == 32 ? 0xffffffffu : (1u << valid) - 1u;                                   \
            for (long i = 0; i < n; i++) {                                                                    \
                uint32_t bits = masks[i * words + r0 / 32] & keep;                                            \
                wn_v16f ev = WN_SPLAT(16, e[i]);                                                              \
                WN_UNROLL for (int v = 0; v < 2; v++) {                                                       \
                    wn_v16i on = (((wn_v16i){0} + (int32_t)(bits >> (16 * v))) & lanes) != 0;                 \
                    WN_STORE(16, se + i * 32 + 16 * v, WN_RELU_WHERE(16, ev, on));                            \
                }                                                                                             \
            }                                                                                                 \
            for (long l = 0; l < 32; l++) ap[l] = l < valid ? scale * a[r0 + l] : 0.0f;                       \
            for (long r = 0; r < valid; r += R) {                                                             \
                long kv0 = 0;                                                                                 \
                for (; kv0 + KV <= vectors; kv0 += KV) WN_BWD_COLUMN_TILE(R, KV, r, kv0)                      \
                for (; kv0 < vectors; kv0++) WN_BWD_COLUMN_TILE(R, 1, r, kv0)                                 \
            }                                                                                                 \
        }                                                                                                     \
    }

#define WN_NTK_FORWARD_512(NAME, ATTRIBUTES) WN_NTK_FORWARD(NAME, ATTRIBUTES, 16, WN_FWD_ROWS_512, WN_NV_512, WN_LANE_BITS_512)
#define WN_NTK_FORWARD_WIDE(NAME, ATTRIBUTES) WN_NTK_FORWARD(NAME, ATTRIBUTES, 8, WN_FWD_ROWS_AVX2, WN_NV_AVX2, WN_LANE_BITS_WIDE)
#define WN_NTK_FORWARD_BASE(NAME, ATTRIBUTES) WN_NTK_FORWARD(NAME, ATTRIBUTES, 8, WN_ROWS_BASE, WN_NV_BASE, WN_LANE_BITS_BASE)
#define WN_NTK_OUTPUT_GRADIENT_512(NAME, ATTRIBUTES) WN_NTK_OUTPUT_GRADIENT(NAME, ATTRIBUTES, 16, WN_FWD_ROWS_512, WN_NV_512)
#define WN_NTK_OUTPUT_GRADIENT_WIDE(NAME, ATTRIBUTES) WN_NTK_OUTPUT_GRADIENT(NAME, ATTRIBUTES, 8, WN_FWD_ROWS_AVX2, WN_NV_AVX2)
#define WN_NTK_OUTPUT_GRADIENT_BASE(NAME, ATTRIBUTES) WN_NTK_OUTPUT_GRADIENT(NAME, ATTRIBUTES, 8, WN_ROWS_BASE, WN_NV_BASE)
#define WN_NTK_BACKWARD_WIDE(NAME, ATTRIBUTES) WN_NTK_BACKWARD(NAME, ATTRIBUTES, 8, WN_BWD_ROWS_AVX2, WN_NV_AVX2)
#define WN_NTK_BACKWARD_BASE(NAME, ATTRIBUTES) WN_NTK_BACKWARD(NAME, ATTRIBUTES, 8, WN_ROWS_BASE, WN_NV_BASE)

// 16-lane tiles for AVX-512, 8-lane ones for AVX2, narrow ones for the baseline.
#if defined(__x86_64__)
#define WN_INSTANTIATE_TILED(FAMILY, NAME)                                                                \
    FAMILY##_512(NAME##_avx512, __attribute__((target("avx512f,avx512dq,avx512bw,avx512vl,avx2,fma")))) \
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
