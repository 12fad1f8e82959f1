// gemm.cl — C = alpha·op(A)·op(B) + beta·C, row-major, natural leading dimensions.
//
//   op(A): M×K   (A stored M×K, or K×M when TRANS_A)
//   op(B): K×N   (B stored K×N, or N×K when TRANS_B)
//   C:     M×N
//
//        N →                 each work-group computes one TS×TS tile of C,
//   M  ┌────┬────┐           walking K in steps of TS with both operand tiles
//   ↓  │tile│    │           staged in local memory (padded by one to avoid
//      ├────┼────┤           bank conflicts); edges are zero-padded, so M, N, K
//      │    │    │           need not be multiples of TS.
//      └────┴────┘
// Dimension letters: M, N, K of the product (not the network's n, m, d).
// Tuning parameters (host may override with -D):
#ifndef TS
#define TS 16        // tile edge; work-group is TS×TS work-items
#endif
#ifndef TRANS_A
#define TRANS_A 0
#endif
#ifndef TRANS_B
#define TRANS_B 0
#endif

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
          __global const REAL *A, __global const REAL *B, const REAL beta, __global REAL *C)
{
    const int lc = get_local_id(0), lr = get_local_id(1);
    const int col = get_group_id(0) * TS + lc;   // j in [0, N)
    const int row = get_group_id(1) * TS + lr;   // i in [0, M)
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
