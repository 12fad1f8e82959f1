// rowtile.cl — the shared inner loop of the width-streaming forward passes (ntk_forward,
// mfld_forward): each work-item accumulates z_r = Σ_k X[i,k]·W[r,k] for one sample i and the 32
// rows r of its mask word, through local-memory tiles shared by the work-group.
//
//   work-group = FWD_TN samples × FWD_WQ words (32·FWD_WQ rows of W)
//   per K-chunk: Xs[FWD_TN][FWD_KC] and Ws[32·FWD_WQ][FWD_KC] staged, then 32 FMAs per item per k
//
// Dimension letters: n samples (rows of X), d input dimension, m rows of W in the block;
// W rows start every ldw values (d for the NTK weights, d + 2 for particles).
// Tuning parameters:
#ifndef FWD_TN
#define FWD_TN 32    // samples per work-group
#endif
#ifndef FWD_WQ
#define FWD_WQ 4     // groups of 32 rows per work-group
#endif
#ifndef FWD_KC
#define FWD_KC 16    // input-dimension chunk staged in local memory
#endif

// OpenCL 1.2 allows __local arrays only at kernel scope, so the kernel owns Xs and Ws.
inline void rowtile_z(const int n, const int d, const int m, const int ldw,
                      __global const REAL *X, __global const REAL *W,
                      __local REAL (*Xs)[FWD_KC + 1], __local REAL (*Ws)[FWD_KC + 1], REAL *z)
{
    const int li = get_local_id(0), lq = get_local_id(1);
    const int lid = lq * FWD_TN + li;
    const int groupR0 = get_group_id(1) * FWD_WQ * 32;
    for (int r = 0; r < 32; ++r) z[r] = 0;
    for (int k0 = 0; k0 < d; k0 += FWD_KC) {
        for (int t = lid; t < FWD_TN * FWD_KC; t += FWD_TN * FWD_WQ) {
            const int ii = t / FWD_KC, kk = t % FWD_KC;
            const int gi = get_group_id(0) * FWD_TN + ii, gk = k0 + kk;
            Xs[ii][kk] = (gi < n && gk < d) ? X[(size_t)gi * d + gk] : (REAL)0;
        }
        for (int t = lid; t < FWD_WQ * 32 * FWD_KC; t += FWD_TN * FWD_WQ) {
            const int rr = t / FWD_KC, kk = t % FWD_KC;
            const int gr = groupR0 + rr, gk = k0 + kk;
            Ws[rr][kk] = (gr < m && gk < d) ? W[(size_t)gr * ldw + gk] : (REAL)0;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int kk = 0; kk < FWD_KC; ++kk) {
            const REAL xv = Xs[li][kk];
            #pragma unroll
            for (int r = 0; r < 32; ++r) z[r] += xv * Ws[lq * 32 + r][kk];
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
}

// Sums the items' values over the FWD_WQ words of the group in a fixed order and writes one
// partial per sample: partials[group·n + i].
inline void rowtile_group_sum(const int n, const REAL value, __local REAL (*sums)[FWD_TN], __global REAL *partials)
{
    const int li = get_local_id(0), lq = get_local_id(1);
    const int i = get_group_id(0) * FWD_TN + li;
    sums[lq][li] = value;
    barrier(CLK_LOCAL_MEM_FENCE);
    if (lq == 0 && i < n) {
        REAL total = 0;
        for (int w = 0; w < FWD_WQ; ++w) total += sums[w][li];
        partials[(size_t)get_group_id(1) * n + i] = total;
    }
}
