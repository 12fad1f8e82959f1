// ntk.cl — fused forward and backward-and-update of the two-layer ReLU net, one width block.
//
// Dimension letters: n samples, d input dimension, m block width (neurons), words = ceil(m/32).
//   X: n×d, W: m×d, a: m, e: n (residual u − y), masks: n×words uint, bit (r mod 32) of
//   masks[i·words + r/32] is S_ir = 1{w_rᵀx_i ≥ 0}.
//
// These are variant 1 of the NTK kernels, kept for comparison; ntk_tiled.cl holds variant 2.
//
// Forward (ntk_forward): work-item (i, q) owns sample i and the 32 neurons of mask word q.
//
//             words q →                 a work-group is FWD_TN samples × FWD_WQ words: it stages
//   samples ┌──┬──┬──┬──┐               X[FWD_TN][FWD_KC] and W[32·FWD_WQ][FWD_KC] in local
//     i ↓   │  │  │  │  │  z[32] each   memory, accumulates z_ir for its 32 neurons in registers,
//           ├──┼──┼──┼──┤               writes one mask word, then the group sums
//           └──┴──┴──┴──┘               Σ_r a_r relu(z_ir) over its FWD_WQ words in a fixed
//                                       order into partials[g·n + i] (g = q / FWD_WQ).
// No n×m matrix is ever stored, and the partials take n·words/FWD_WQ values.
//
// sum_partials (reduce.cl) then sums the partials over g for each i with a fixed tree (deterministic).
// Backward (ntk_backward_update): work-item r owns neuron r and updates its row of W in place:
//   w_r ← w_r − scale·a_r·Σ_i S_ir e_i x_i; with TRAIN_A also a_r ← a_r − scale·Σ_i e_i relu(z_ir).
//
// Tuning parameters (host may override with -D):
// FWD_TN, FWD_WQ, FWD_KC: the forward tiles, documented in rowtile.cl (built in front of this file).
#ifndef BWD_WG
#define BWD_WG 64    // neurons per backward work-group
#endif
#ifndef BWD_SC
#define BWD_SC 32    // samples staged per step in the backward pass
#endif
#ifndef BWD_KC
#define BWD_KC 16    // input coordinates accumulated per pass in the backward pass
#endif
#ifndef TRAIN_A
#define TRAIN_A 0
#endif

__kernel __attribute__((reqd_work_group_size(FWD_ITEMS, 1, 1)))
void ntk_forward(const int n, const int d, const int m, const int words,
                 __global const REAL *X, __global const REAL *W, __global const REAL *a,
                 __global uint *masks, __global REAL *partials, const int group1_base)
{
    const int i = rowtile_sample(group1_base);
    const int q = rowtile_word();
    const int r0 = q * 32;
    __local REAL Xs[FWD_TN][FWD_KC + 1];
    __local REAL Ws[FWD_WQ * 32][FWD_KC + 1];
    __local REAL sums[FWD_WQ][FWD_TN];
    REAL z[32];
    rowtile_z(n, d, m, d, group1_base, X, W, Xs, Ws, z);
    uint word = 0;
    REAL acc = 0;
    #pragma unroll
    for (int r = 0; r < 32; ++r) {
        const bool on = r0 + r < m && z[r] >= (REAL)0;
        word |= (on ? 1u : 0u) << r;
        acc += on ? a[min(r0 + r, m - 1)] * z[r] : (REAL)0;
    }
    if (i < n && q < words) masks[(size_t)i * words + q] = word;
    rowtile_group_sum(n, group1_base, acc, sums, partials);
}

__kernel __attribute__((reqd_work_group_size(BWD_WG, 1, 1)))
void ntk_backward_update(const int n, const int d, const int m, const int words, const REAL scale,
                         __global const REAL *X, __global REAL *W, __global REAL *a,
                         __global const uint *masks, __global const REAL *e)
{
    const int lr = get_local_id(0);
    const int r = get_group_id(0) * BWD_WG + lr;
    const bool live = r < m;
    const int rc = live ? r : m - 1;       // clamp so idle items read valid memory
    const REAL ar = a[rc];
    __local REAL Xs[BWD_SC][BWD_KC];
    __local REAL Es[BWD_SC];
#if TRAIN_A
    // Output-weight gradient at the old w_r, before the row is updated below.
    REAL ga = 0;
    for (int i = 0; i < n; ++i) {
        REAL zi = 0;
        for (int k = 0; k < d; ++k) zi += W[(size_t)rc * d + k] * X[(size_t)i * d + k];
        ga += e[i] * fmax(zi, (REAL)0);
    }
#endif
    for (int k0 = 0; k0 < d; k0 += BWD_KC) {
        REAL g[BWD_KC];
        for (int kk = 0; kk < BWD_KC; ++kk) g[kk] = 0;
        for (int i0 = 0; i0 < n; i0 += BWD_SC) {
            barrier(CLK_LOCAL_MEM_FENCE);
            for (int t = lr; t < BWD_SC * BWD_KC; t += BWD_WG) {
                const int ii = t / BWD_KC, kk = t % BWD_KC;
                const int gi = i0 + ii, gk = k0 + kk;
                Xs[ii][kk] = (gi < n && gk < d) ? X[(size_t)gi * d + gk] : (REAL)0;
            }
            for (int t = lr; t < BWD_SC; t += BWD_WG) Es[t] = (i0 + t < n) ? e[i0 + t] : (REAL)0;
            barrier(CLK_LOCAL_MEM_FENCE);
            const int lim = min(BWD_SC, n - i0);
            for (int ii = 0; ii < lim; ++ii) {
                const uint bit = (masks[(size_t)(i0 + ii) * words + (rc >> 5)] >> (rc & 31)) & 1u;
                if (bit) {
                    const REAL ei = Es[ii];
                    #pragma unroll
                    for (int kk = 0; kk < BWD_KC; ++kk) g[kk] += ei * Xs[ii][kk];
                }
            }
        }
        if (live) {
            // A compile-time trip count keeps g in registers; the bound is a guard inside.
            #pragma unroll
            for (int kk = 0; kk < BWD_KC; ++kk)
                if (k0 + kk < d) W[(size_t)r * d + k0 + kk] -= scale * ar * g[kk];
        }
    }
#if TRAIN_A
    if (live) a[r] = ar - scale * ga;
#endif
}
