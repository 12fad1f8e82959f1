// rowtile.cl — the shared inner loop of the width-streaming forward passes (ntk_forward,
// mfld_forward): each work-item accumulates z_r = Σ_k X[i,k]·W[r,k] for one sample i and the 32
// rows r of its mask word, through local-memory tiles shared by the work-group.
//
//   work-group = FWD_TN samples × FWD_WQ words (32·FWD_WQ rows of W), as FWD_TN·FWD_WQ items in
//   dimension 0 (item l: sample l mod FWD_TN, word l / FWD_TN)
//   grid: dimension 0 = word groups (up to 2^31 − 1, so any width), dimension 1 = sample groups,
//         launched in slices of at most 65 535 groups, each told its first group (group1_base)
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
#define FWD_ITEMS (FWD_TN * FWD_WQ)

// The sample and word of this item.
inline int rowtile_sample(const int group1_base)
{
    return (group1_base + (int)get_group_id(1)) * FWD_TN + (int)get_local_id(0) % FWD_TN;
}
inline int rowtile_word(void)
{
    return (int)get_group_id(0) * FWD_WQ + (int)get_local_id(0) / FWD_TN;
}

inline void rowtile_z(const int n, const int d, const int m, const int ldw, const int group1_base,
                      __global const REAL *X, __global const REAL *W,
                      __local REAL (*Xs)[FWD_KC + 1], __local REAL (*Ws)[FWD_KC + 1], REAL *z)
{
    const int lid = get_local_id(0);
    const int li = lid % FWD_TN, lq = lid / FWD_TN;
    const int groupI0 = (group1_base + (int)get_group_id(1)) * FWD_TN;
    const int groupR0 = get_group_id(0) * FWD_WQ * 32;
    for (int r = 0; r < 32; ++r) z[r] = 0;
    for (int k0 = 0; k0 < d; k0 += FWD_KC) {
        for (int t = lid; t < FWD_TN * FWD_KC; t += FWD_ITEMS) {
            const int ii = t / FWD_KC, kk = t % FWD_KC;
            const int gi = groupI0 + ii, gk = k0 + kk;
            Xs[ii][kk] = (gi < n && gk < d) ? X[(size_t)gi * d + gk] : (REAL)0;
        }
        for (int t = lid; t < FWD_WQ * 32 * FWD_KC; t += FWD_ITEMS) {
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
// partial per sample: partials[g·n + i], g the word group.
inline void rowtile_group_sum(const int n, const int group1_base, const REAL value, __local REAL (*sums)[FWD_TN],
                              __global REAL *partials)
{
    const int lid = get_local_id(0);
    const int li = lid % FWD_TN, lq = lid / FWD_TN;
    const int i = rowtile_sample(group1_base);
    sums[lq][li] = value;
    barrier(CLK_LOCAL_MEM_FENCE);
    if (lq == 0 && i < n) {
        REAL total = 0;
        for (int w = 0; w < FWD_WQ; ++w) total += sums[w][li];
        partials[(size_t)get_group_id(0) * n + i] = total;
    }
}
