// ntk_tiled.cl — register-tiled NTK kernels (variant 2; ntk.cl keeps variant 1 for comparison).
//
// Dimension letters: n samples, d input dimension, m block width, words = ceil(m/32);
// X: n×d, W: m×d, a: m, e: n (the residual u − y), masks n×words (bit r mod 32 of word
// [i·words + r/32] is S_ir = 1{w_rᵀx_i ≥ 0}).
//
// Forward: a GEMM tile of Z = X Wᵀ with the ReLU, the mask and Σ_r a_r relu(z_ir) in its epilogue.
//
//          neurons r →  (NT_TM per group, NT_RM per item)
//   samples ┌────┬────┬────┐   work-group: NT_TN samples × NT_TM neurons, items (tx, ty) each
//   i ↓     │ RN │    │    │   hold an NT_RN × NT_RM block of z in registers; per chunk of NT_KC
//  (NT_TN)  │×RM │    │    │   coordinates Xs[KC][TN] and Ws[KC][TM] are staged in local memory
//           └────┴────┴────┘   and every item does RN·RM FMAs per RN + RM local loads.
//
//   grid: dimension 0 = neuron groups (any width), dimension 1 = sample groups in slices
//   (group1_base), items flattened in dimension 0: item l has tx = l mod NT_IM, ty = l / NT_IM.
//   Epilogue: bits staged as bytes Bs[TN][TM] and packed into whole mask words (NT_TM is a
//   multiple of 32); each item sums its RM neurons, then the NT_IM items of a sample are summed
//   in a fixed order into partials[g·n + i] (g the neuron group), summed by sum_partials.
//
// ntk_output_gradient_tiled: the same tile, epilogue ga[s·m + r] = Σ_{i in sample group s} e_i relu(z_ir),
//   the output-weight gradient at the old W (only with --train-output), summed over s by
//   ntk_output_step, which applies a_r ← a_r − scale·Σ_s ga[s·m + r].
//
// Backward (ntk_backward_tiled): G = (S ⊙ e)ᵀ X as a GEMM tile, W ← W − scale·diag(a)·G.
//   work-group: NB_BM neurons × NB_BD coordinates; item (td, tr) holds NB_RM neurons × NB_RD
//   coordinates; per chunk of NB_BS samples Xs[BS][BD], the mask words Ms[BS][BM/32] and e are
//   staged; the mask bit becomes a select (no branch per sample); neighbouring items hold
//   neighbouring coordinates, so the write-back of W is coalesced.
//   grid: dimension 0 = neuron groups, dimension 1 = coordinate groups (sliced).
//
// Tuning parameters (NTKKernelConfig on the host; the defaults here are for a build without it):
#ifndef NT_TM
#define NT_TM 64     // neurons per forward work-group (a multiple of 32)
#endif
#ifndef NT_TN
#define NT_TN 32     // samples per forward work-group
#endif
#ifndef NT_KC
#define NT_KC 16     // coordinates staged per step
#endif
#ifndef NT_RM
#define NT_RM 4      // neurons per item
#endif
#ifndef NT_RN
#define NT_RN 4      // samples per item
#endif
#ifndef NB_BM
#define NB_BM 64     // neurons per backward work-group (a multiple of 32)
#endif
#ifndef NB_BD
#define NB_BD 32     // coordinates per backward work-group
#endif
#ifndef NB_BS
#define NB_BS 32     // samples staged per step
#endif
#ifndef NB_RM
#define NB_RM 4      // neurons per item
#endif
#ifndef NB_RD
#define NB_RD 4      // coordinates per item
#endif
#define NT_IM (NT_TM / NT_RM)
#define NT_IN (NT_TN / NT_RN)
#define NT_ITEMS (NT_IM * NT_IN)
#define NB_IM (NB_BM / NB_RM)
#define NB_ID (NB_BD / NB_RD)
#define NB_ITEMS (NB_IM * NB_ID)

// acc[s][j] = Σ_k X[i0 + ty·RN + s, k] · W[r0 + tx·RM + j, k] for this item (zero outside n, m, d).
inline void ntk_tile_z(const int n, const int d, const int m, const int i0, const int r0,
                       __global const REAL *X, __global const REAL *W,
                       __local REAL (*Xs)[NT_TN], __local REAL (*Ws)[NT_TM], REAL acc[NT_RN][NT_RM])
{
    const int t = get_local_id(0), tx = t % NT_IM, ty = t / NT_IM;
    #pragma unroll
    for (int s = 0; s < NT_RN; ++s) {
        #pragma unroll
        for (int j = 0; j < NT_RM; ++j) acc[s][j] = 0;
    }
    for (int k0 = 0; k0 < d; k0 += NT_KC) {
        // Consecutive items read consecutive coordinates of a row: coalesced global loads.
        for (int q = t; q < NT_TN * NT_KC; q += NT_ITEMS) {
            const int ii = q / NT_KC, kk = q % NT_KC, gi = i0 + ii, gk = k0 + kk;
            Xs[kk][ii] = (gi < n && gk < d) ? X[(size_t)gi * d + gk] : (REAL)0;
        }
        for (int q = t; q < NT_TM * NT_KC; q += NT_ITEMS) {
            const int rr = q / NT_KC, kk = q % NT_KC, gr = r0 + rr, gk = k0 + kk;
            Ws[kk][rr] = (gr < m && gk < d) ? W[(size_t)gr * d + gk] : (REAL)0;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        #pragma unroll
        for (int kk = 0; kk < NT_KC; ++kk) {
            REAL xv[NT_RN], wv[NT_RM];
            #pragma unroll
            for (int s = 0; s < NT_RN; ++s) xv[s] = Xs[kk][ty * NT_RN + s];
            #pragma unroll
            for (int j = 0; j < NT_RM; ++j) wv[j] = Ws[kk][tx * NT_RM + j];
            #pragma unroll
            for (int s = 0; s < NT_RN; ++s) {
                #pragma unroll
                for (int j = 0; j < NT_RM; ++j) acc[s][j] += xv[s] * wv[j];
            }
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
}

__kernel __attribute__((reqd_work_group_size(NT_ITEMS, 1, 1)))
void ntk_forward_tiled(const int n, const int d, const int m, const int words,
                       __global const REAL *X, __global const REAL *W, __global const REAL *a,
                       __global uint *masks, __global REAL *partials, const int group1_base)
{
    const int t = get_local_id(0), tx = t % NT_IM, ty = t / NT_IM;
    const int r0 = get_group_id(0) * NT_TM, i0 = (group1_base + (int)get_group_id(1)) * NT_TN;
    __local REAL Xs[NT_KC][NT_TN];
    __local REAL Ws[NT_KC][NT_TM];
    __local uchar Bs[NT_TN][NT_TM];
    __local REAL Ss[NT_TN][NT_IM];
    REAL acc[NT_RN][NT_RM];
    ntk_tile_z(n, d, m, i0, r0, X, W, Xs, Ws, acc);
    REAL av[NT_RM];
    #pragma unroll
    for (int j = 0; j < NT_RM; ++j) av[j] = a[min(r0 + tx * NT_RM + j, m - 1)];
    #pragma unroll
    for (int s = 0; s < NT_RN; ++s) {
        REAL sum = 0;
        #pragma unroll
        for (int j = 0; j < NT_RM; ++j) {
            const bool on = r0 + tx * NT_RM + j < m && acc[s][j] >= (REAL)0;
            Bs[ty * NT_RN + s][tx * NT_RM + j] = on ? 1 : 0;
            sum += on ? av[j] * acc[s][j] : (REAL)0;
        }
        Ss[ty * NT_RN + s][tx] = sum;
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int q = t; q < NT_TN * (NT_TM / 32); q += NT_ITEMS) {
        const int ii = q / (NT_TM / 32), wq = q % (NT_TM / 32);
        const int gi = i0 + ii, gw = r0 / 32 + wq;
        if (gi < n && gw < words) {
            uint word = 0;
            #pragma unroll
            for (int b = 0; b < 32; ++b) word |= (uint)Bs[ii][wq * 32 + b] << b;
            masks[(size_t)gi * words + gw] = word;
        }
    }
    for (int ii = t; ii < NT_TN; ii += NT_ITEMS) {
        if (i0 + ii < n) {
            REAL sum = 0;
            for (int x = 0; x < NT_IM; ++x) sum += Ss[ii][x];
            partials[(size_t)get_group_id(0) * n + i0 + ii] = sum;
        }
    }
}

__kernel __attribute__((reqd_work_group_size(NT_ITEMS, 1, 1)))
void ntk_output_gradient_tiled(const int n, const int d, const int m,
                               __global const REAL *X, __global const REAL *W, __global const REAL *e,
                               __global REAL *ga, const int group1_base)
{
    const int t = get_local_id(0), tx = t % NT_IM, ty = t / NT_IM;
    const int s0 = group1_base + (int)get_group_id(1);
    const int r0 = get_group_id(0) * NT_TM, i0 = s0 * NT_TN;
    __local REAL Xs[NT_KC][NT_TN];
    __local REAL Ws[NT_KC][NT_TM];
    __local REAL Gs[NT_IN][NT_TM];
    REAL acc[NT_RN][NT_RM];
    ntk_tile_z(n, d, m, i0, r0, X, W, Xs, Ws, acc);
    REAL ev[NT_RN];
    #pragma unroll
    for (int s = 0; s < NT_RN; ++s) ev[s] = (i0 + ty * NT_RN + s < n) ? e[i0 + ty * NT_RN + s] : (REAL)0;
    #pragma unroll
    for (int j = 0; j < NT_RM; ++j) {
        REAL sum = 0;
        #pragma unroll
        for (int s = 0; s < NT_RN; ++s) sum += ev[s] * fmax(acc[s][j], (REAL)0);
        Gs[ty][tx * NT_RM + j] = sum;
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int rr = t; rr < NT_TM; rr += NT_ITEMS) {
        if (r0 + rr < m) {
            REAL sum = 0;
            for (int y = 0; y < NT_IN; ++y) sum += Gs[y][rr];
            ga[(size_t)s0 * m + r0 + rr] = sum;
        }
    }
}

// a_r ← a_r − scale · Σ_s ga[s·m + r], s over the sample groups in order.
__kernel void ntk_output_step(const int m, const int sampleGroups, const REAL scale,
                              __global const REAL *ga, __global REAL *a)
{
    const int r = get_global_id(0);
    if (r >= m) return;
    REAL sum = 0;
    for (int s = 0; s < sampleGroups; ++s) sum += ga[(size_t)s * m + r];
    a[r] -= scale * sum;
}

__kernel __attribute__((reqd_work_group_size(NB_ITEMS, 1, 1)))
void ntk_backward_tiled(const int n, const int d, const int m, const int words, const REAL scale,
                        __global const REAL *X, __global REAL *W, __global const REAL *a,
                        __global const uint *masks, __global const REAL *e, const int group1_base)
{
    const int t = get_local_id(0), td = t % NB_ID, tr = t / NB_ID;
    const int r0 = get_group_id(0) * NB_BM, k0 = (group1_base + (int)get_group_id(1)) * NB_BD;
    const int w0 = r0 / 32;
    __local REAL Xs[NB_BS][NB_BD];
    __local uint Ms[NB_BS][NB_BM / 32];
    __local REAL Es[NB_BS];
    REAL acc[NB_RM][NB_RD];
    #pragma unroll
    for (int j = 0; j < NB_RM; ++j) {
        #pragma unroll
        for (int l = 0; l < NB_RD; ++l) acc[j][l] = 0;
    }
    for (int i0 = 0; i0 < n; i0 += NB_BS) {
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int q = t; q < NB_BS * NB_BD; q += NB_ITEMS) {
            const int ii = q / NB_BD, kk = q % NB_BD, gi = i0 + ii, gk = k0 + kk;
            Xs[ii][kk] = (gi < n && gk < d) ? X[(size_t)gi * d + gk] : (REAL)0;
        }
        for (int q = t; q < NB_BS * (NB_BM / 32); q += NB_ITEMS) {
            const int ii = q / (NB_BM / 32), wq = q % (NB_BM / 32), gi = i0 + ii;
            Ms[ii][wq] = (gi < n && w0 + wq < words) ? masks[(size_t)gi * words + w0 + wq] : 0u;
        }
        for (int q = t; q < NB_BS; q += NB_ITEMS) Es[q] = (i0 + q < n) ? e[i0 + q] : (REAL)0;
        barrier(CLK_LOCAL_MEM_FENCE);
        // Samples past n have e = 0 and no bits, so the trip count stays fixed.
        #pragma unroll 4
        for (int ii = 0; ii < NB_BS; ++ii) {
            const REAL ei = Es[ii];
            REAL c[NB_RM], xv[NB_RD];
            #pragma unroll
            for (int j = 0; j < NB_RM; ++j) {
                const int rl = tr * NB_RM + j;
                c[j] = ((Ms[ii][rl >> 5] >> (rl & 31)) & 1u) ? ei : (REAL)0;
            }
            #pragma unroll
            for (int l = 0; l < NB_RD; ++l) xv[l] = Xs[ii][td * NB_RD + l];
            #pragma unroll
            for (int j = 0; j < NB_RM; ++j) {
                #pragma unroll
                for (int l = 0; l < NB_RD; ++l) acc[j][l] += c[j] * xv[l];
            }
        }
    }
    #pragma unroll
    for (int j = 0; j < NB_RM; ++j) {
        const int r = r0 + tr * NB_RM + j;
        if (r < m) {
            const REAL sa = scale * a[r];
            #pragma unroll
            for (int l = 0; l < NB_RD; ++l) {
                const int k = k0 + td * NB_RD + l;
                if (k < d) W[(size_t)r * d + k] -= sa * acc[j][l];
            }
        }
    }
}
