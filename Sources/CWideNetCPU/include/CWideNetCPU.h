// The hot CPU loops, compiled once per x86-64 instruction set and chosen at run time
// (Sources/WideNet/Backend/CPU/CPUKernels.swift), so that one binary is fast on any x86-64 and the
// same on all of them: only +, −, ×, ÷, comparisons and (in the NTK tiles) fused multiply-adds,
// every one correctly rounded, contraction off, so every variant and the plain Swift reference
// round alike.
#ifndef CWIDENETCPU_H
#define CWIDENETCPU_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// The variants, best first.
enum wn_isa { WN_ISA_AVX512 = 0, WN_ISA_AVX2 = 1, WN_ISA_BASELINE = 2, WN_ISA_COUNT = 3 };

/// 1 when this processor runs the variant (the baseline always runs; other architectures only have it).
int wn_isa_supported(int isa);
int wn_usable_cores(void);

/// out[i] = tanh(in[i]) for n floats (in == out allowed), every variant to the same bits.
void wn_tanh_f32(int isa, const float *in, float *out, long n);

/// Standard normals of Philox4x32-10 groups g0 … g0 + groups − 1 (four values each, Box–Muller in
/// the output's precision), stored as value · scale: the same bits as the Swift generator and philox.cl.
void wn_philox_normals_f32(int isa, uint32_t k0, uint32_t k1, uint32_t stream, uint32_t step, uint64_t g0, long groups,
                           float scale, float *out);
void wn_philox_normals_f64(int isa, uint32_t k0, uint32_t k1, uint32_t stream, uint32_t step, uint64_t g0, long groups,
                           double scale, double *out);

/// Σ a_i b_i over n floats in a fixed order of eight lanes (the same bits from every variant).
float wn_dot_f32(int isa, const float *a, const float *b, long n);

/// The fused NTK step for f32 (ntk.c). X is packed once per call, in the layout of the variant:
/// forward tiles (wn_ntk_forward_packed_floats values) and backward tiles (wn_ntk_backward_packed_floats).
long wn_ntk_rows(int isa);
long wn_ntk_forward_packed_floats(int isa, long n, long d);
void wn_ntk_forward_pack_x(int isa, const float *x, long n, long d, float *packed);
long wn_ntk_backward_packed_floats(int isa, long n, long d);
void wn_ntk_backward_pack_x(int isa, const float *x, long n, long d, float *packed);
/// Floats of scratch one worker needs for chunks of up to `width` neurons.
long wn_ntk_scratch_floats(long n, long d, long width);
/// One chunk of `width` neurons starting at a multiple of 32: w (width×d), a, masks (the chunk's
/// first word of row 0; row stride `words`); partial[i] = Σ_r a_r relu(w_rᵀx_i) over the chunk.
void wn_ntk_forward_chunk_f32(int isa, const float *xp, long n, long d, const float *w, const float *a, long width,
                              uint32_t *masks, long words, float *partial, float *scratch);
/// One GD update of a chunk: w_r ← w_r − scale·a_r Σ_i S_ir e_i x_i and, with train_output,
/// a_r ← a_r − scale Σ_i e_i relu(w_rᵀx_i), both at the old parameters.
void wn_ntk_backward_chunk_f32(int isa, const float *xp, const float *xr, long n, long d, float *w, float *a, long width,
                               const uint32_t *masks, long words, const float *e, float scale, int train_output,
                               float *scratch);

/// The mean-field units' element work over a chunk, z B×cw row-major (mfld.c): z ← max(z + b, 0);
/// relu's gradient factors (z ← dz, gb += dz, ga += c·relu); tanh's from t = tanh(z + b) in z.
void wn_biased_relu_f32(int isa, float *z, long rows, long cw, const float *bias);
void wn_relu_gradients_f32(int isa, float *z, long rows, long cw, const float *bias, const float *a, const float *c, float *gb,
                           float *ga);
void wn_tanh_gradients_f32(int isa, float *z, long rows, long cw, const float *outer, const float *slope, const float *c,
                           float *gb, float *ga);

#ifdef __cplusplus
}
#endif
#endif
