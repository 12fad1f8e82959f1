// gemm.cl — C = alpha·op(A)·op(B) + beta·C, row-major, natural leading dimensions.
//
//   op(A): M×K   (A stored M×K, or K×M when TRANS_A)
//   op(B): K×N   (B stored K×N, or N×K when TRANS_B)
//   C:     M×N
//
// Dimension letters: M, N, K of the product (not the network's n, m, d).
//
// Two variants, numbered as in the benchmark and the tuner:
//   gemm (variant 1)       one output per work-item, TS×TS tiles in local memory. The reference
//                          kernel, kept simple; the tuner checks every other variant against it.
//   gemm_tiled (variant 2) register blocking: a work-group of (MWG/WPTM)×(NWG/WPTN) items
//                          computes an MWG×NWG tile of C, each item WPTM×WPTN outputs held in
//                          registers; K advances KWG at a time through two local-memory stages
//                          (the next tile is loaded while the current one is used).
//
//          N → (NWG per group)
//   M  ┌──────────┬──────────┐    item (tm, tn) owns rows tm + i·(MWG/WPTM) and columns
//   ↓  │ ▪ ▪ ▪ ▪  │          │    tn + j·(NWG/WPTN) of its group's tile (strided, so a
//      │ ▪ ▪ ▪ ▪  │          │    warp's loads from local memory hit distinct banks)
//      └──────────┴──────────┘
//
// Edges are zero-padded in local memory, so M, N, K need not be multiples of any tile.
// Grid: dimension 0 along N, dimension 1 along M, launched in slices of at most 65 535 groups
// (group1_base is the slice's first group).
// Tuning parameters (host overrides with -D; per-device values come from the tuning database):
#ifndef TS
#define TS 16        // variant 1: tile edge; work-group is TS×TS
#endif
#ifndef MWG
#define MWG 64       // variant 2: rows of C per work-group
#endif
#ifndef NWG
#define NWG 64       // variant 2: columns of C per work-group
#endif
#ifndef KWG
#define KWG 16       // variant 2: K per local-memory stage
#endif
#ifndef WPTM
#define WPTM 4       // variant 2: rows of C per work-item
#endif
#ifndef WPTN
#define WPTN 4       // variant 2: columns of C per work-item
#endif
#ifndef TRANS_A
#define TRANS_A 0
#endif
#ifndef TRANS_B
#define TRANS_B 0
#endif

#define RTSM (MWG / WPTM)   // work-items along M
#define RTSN (NWG / WPTN)   // work-items along N

#if TRANS_A
#define A_AT(i, k) A[(size_t)(k) * M + (i)]
#else
#define A_AT(i, k) A[(size_t)(i) * K + (k)]
#endif
#if TRANS_B
#define B_AT(k, j) B[(size_t)(j) * K + (k)]
#else
#define B_AT(k, j) B[(size_t)(k) * N + (j)]
#endif

__kernel __attribute__((reqd_work_group_size(TS, TS, 1)))
void gemm(const int M, const int N, const int K, const REAL alpha,
          __global const REAL *A, __global const REAL *B, const REAL beta, __global REAL *C, const int group1_base)
{
    const int lc = get_local_id(0), lr = get_local_id(1);
    const int col = get_group_id(0) * TS + lc;   // j in [0, N)
    const int row = (group1_base + (int)get_group_id(1)) * TS + lr;   // i in [0, M)
    __local REAL As[TS][TS + 1];
    __local REAL Bs[TS][TS + 1];
    REAL acc = 0;
    for (int t = 0; t < K; t += TS) {
        const int ka = t + lc, kb = t + lr;
        As[lr][lc] = (row < M && ka < K) ? A_AT(row, ka) : (REAL)0;
        Bs[lr][lc] = (kb < K && col < N) ? B_AT(kb, col) : (REAL)0;
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int k = 0; k < TS; ++k) acc += As[lr][k] * Bs[k][lc];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (row < M && col < N) {
        // beta == 0 must not read C: it may hold garbage (or NaN) before the first product.
        const size_t q = (size_t)row * N + col;
        C[q] = (beta == (REAL)0) ? alpha * acc : alpha * acc + beta * C[q];
    }
}

// Loads the KWG-deep slices of op(A) (MWG rows) and op(B) (NWG columns) starting at k0 into one
// local stage, zero-padding past the matrix edges.
inline void gemm_load_stage(const int M, const int N, const int K, const int k0, const int m0, const int n0,
                            const int lid, __global const REAL *A, __global const REAL *B,
                            __local REAL (*As)[MWG + 1], __local REAL (*Bs)[NWG + 1])
{
    for (int t = lid; t < KWG * MWG; t += RTSM * RTSN) {
        // Consecutive items take consecutive rows when A is transposed (contiguous in memory),
        // consecutive k otherwise.
#if TRANS_A
        const int kk = t / MWG, ii = t % MWG;
#else
        const int ii = t / KWG, kk = t % KWG;
#endif
        const int gi = m0 + ii, gk = k0 + kk;
        As[kk][ii] = (gi < M && gk < K) ? A_AT(gi, gk) : (REAL)0;
    }
    for (int t = lid; t < KWG * NWG; t += RTSM * RTSN) {
#if TRANS_B
        const int jj = t / KWG, kk = t % KWG;
#else
        const int kk = t / NWG, jj = t % NWG;
#endif
        const int gj = n0 + jj, gk = k0 + kk;
        Bs[kk][jj] = (gj < N && gk < K) ? B_AT(gk, gj) : (REAL)0;
    }
}

__kernel __attribute__((reqd_work_group_size(RTSN, RTSM, 1)))
void gemm_tiled(const int M, const int N, const int K, const REAL alpha,
                __global const REAL *A, __global const REAL *B, const REAL beta, __global REAL *C, const int group1_base)
{
    const int tn = get_local_id(0), tm = get_local_id(1);
    const int lid = tm * RTSN + tn;
    const int m0 = (group1_base + (int)get_group_id(1)) * MWG, n0 = get_group_id(0) * NWG;
    __local REAL As[2][KWG][MWG + 1];
    __local REAL Bs[2][KWG][NWG + 1];
    REAL acc[WPTM][WPTN];
    for (int i = 0; i < WPTM; ++i)
        for (int j = 0; j < WPTN; ++j) acc[i][j] = 0;

    gemm_load_stage(M, N, K, 0, m0, n0, lid, A, B, As[0], Bs[0]);
    barrier(CLK_LOCAL_MEM_FENCE);
    int stage = 0;
    for (int k0 = 0; k0 < K; k0 += KWG) {
        // Fill the other stage with the next slice while this one is consumed; the barrier at
        // the end of the iteration orders both.
        if (k0 + KWG < K) gemm_load_stage(M, N, K, k0 + KWG, m0, n0, lid, A, B, As[1 - stage], Bs[1 - stage]);
        for (int kk = 0; kk < KWG; ++kk) {
            REAL a[WPTM], b[WPTN];
            for (int i = 0; i < WPTM; ++i) a[i] = As[stage][kk][tm + i * RTSM];
            for (int j = 0; j < WPTN; ++j) b[j] = Bs[stage][kk][tn + j * RTSN];
            for (int i = 0; i < WPTM; ++i)
                for (int j = 0; j < WPTN; ++j) acc[i][j] += a[i] * b[j];
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        stage = 1 - stage;
    }
    for (int i = 0; i < WPTM; ++i) {
        const int row = m0 + tm + i * RTSM;
        if (row >= M) continue;
        for (int j = 0; j < WPTN; ++j) {
            const int col = n0 + tn + j * RTSN;
            if (col >= N) continue;
            const size_t q = (size_t)row * N + col;
            C[q] = (beta == (REAL)0) ? alpha * acc[i][j] : alpha * acc[i][j] + beta * C[q];
        }
    }
}
