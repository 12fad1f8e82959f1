// gram.cl — Gram matrices of the NTK analysis.
//
// Dimension letters: n samples, d input dimension, words = ceil(m/32) mask words per sample.
//
// mask_gram: work-item (j, i), j ≤ i, adds Σ_q popcount(S_i,q & S_j,q) to counts[i·n + j] and
//   counts[j·n + i]: the (i, j) entry of S Sᵀ for one width block (integers, so exact in any order).
// arccos_gram: work-item (j, i) writes H∞_ij = g (π − arccos g) / (2π), g = clamp(x_iᵀx_j, −1, 1).
//
//        j →
//   i ┌─────────┐   both kernels run an n×n grid of TILE×TILE work-groups;
//   ↓ │╲        │   mask_gram only works on the lower triangle (mirrored).
//     │  ╲      │
//     └─────────┘
// Tuning parameters:
#ifndef TILE
#define TILE 8       // work-group edge
#endif

__kernel __attribute__((reqd_work_group_size(TILE, TILE, 1)))
void mask_gram(const int n, const int words, __global const uint *masks, __global uint *counts, const int group1_base)
{
    const int j = get_global_id(0), i = (group1_base + (int)get_group_id(1)) * TILE + (int)get_local_id(1);
    if (i >= n || j > i) return;
    __global const uint *mi = masks + (size_t)i * words;
    __global const uint *mj = masks + (size_t)j * words;
    uint c = 0;
    for (int q = 0; q < words; ++q) c += popcount(mi[q] & mj[q]);
    counts[(size_t)i * n + j] += c;
    if (j != i) counts[(size_t)j * n + i] += c;
}

__kernel __attribute__((reqd_work_group_size(TILE, TILE, 1)))
void arccos_gram(const int n, const int d, __global const REAL *X, __global REAL *H, const int group1_base)
{
    const int j = get_global_id(0), i = (group1_base + (int)get_group_id(1)) * TILE + (int)get_local_id(1);
    if (i >= n || j >= n) return;
    REAL g = 0;
    for (int k = 0; k < d; ++k) g += X[(size_t)i * d + k] * X[(size_t)j * d + k];
    g = clamp(g, (REAL)-1, (REAL)1);
    H[(size_t)i * n + j] = g * ((REAL)REAL_PI - acos(g)) / (2 * (REAL)REAL_PI);
}
