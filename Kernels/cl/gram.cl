// gram.cl — Gram matrices of the NTK analysis.
//
// Dimension letters: n samples, d input dimension, words = ceil(m/32) mask words per sample.
//
// mask_gram: work-item (j, i), j ≤ i, adds Σ_q popcount(S_i,q & S_j,q) to counts[i·n + j] and
//   counts[j·n + i]: the (i, j) entry of S Sᵀ for one width block (integers, so exact in any order).
// arccos_gram: work-item (j, i) writes H∞_ij = g (π − arccos g) / (2π), g = clamp(x_iᵀx_j, −1, 1).
// arccos_product: Y = H∞·V for APT_B vectors (V, Y: APT_B × n, one vector a row) without storing H∞
//   (the matrix-free mode of `widenet gram`). Work-item i owns row i and its APT_B sums in
//   registers; the group stages APT_J columns at a time in local memory (unit rows û_j, norms r_j
//   and V[:, j]; at large d the rows are read from global memory instead) and every item adds
//   h_ij·V[b, j] for them:
//       h_ij = r_i r_j c (½ − θ_ij/2π), c = û_iᵀû_j = cos θ_ij,
//       |c| ≤ ½: ½ − θ/2π = ¼ + asin(c)/2π (well conditioned there, most pairs);
//       else θ = 2·atan2(‖û_i − û_j‖, ‖û_i + û_j‖) from the differences, exact near ±1 and on the diagonal.
//   These are the host's forms (ArcCosineTiles), so both stay within the same rounding bound.
//
//        columns j0 … j0+APT_J staged          rows i of one group (APT_WG items)
//   ┌────────┬───┬────────┐                    each: Σ over every column tile
//   │        │▓▓▓│        │ ← i
//   └────────┴───┴────────┘
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
#ifndef APT_WG
#define APT_WG 64    // arccos_product: rows (work-items) per group
#endif
#ifndef APT_J
#define APT_J 32     // arccos_product: columns staged per step
#endif
#ifndef APT_B
#define APT_B 8      // arccos_product: vectors (compiled per block size)
#endif
#ifndef APT_D
#define APT_D 16     // arccos_product: input dimension (compiled per d)
#endif
#ifndef APT_STAGE_U
#define APT_STAGE_U 1  // arccos_product: stage the unit rows too (0 where one row of d does not fit local memory)
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

__kernel __attribute__((reqd_work_group_size(APT_WG, 1, 1)))
void arccos_product(const int n, __global const REAL *U, __global const REAL *r, __global const REAL *V, __global REAL *Y)
{
#if APT_STAGE_U
    __local REAL Uj[APT_J * APT_D];
#endif
    __local REAL Rj[APT_J];
    __local REAL Vj[APT_B * APT_J];
    const int lid = get_local_id(0), i = (int)get_group_id(0) * APT_WG + lid;
    const int row = min(i, n - 1);     // items past n compute a copy of the last row and write nothing
    const REAL ri = r[row];
    __global const REAL *ui = U + (size_t)row * APT_D;
    REAL acc[APT_B];
    for (int b = 0; b < APT_B; ++b) acc[b] = 0;
    for (int j0 = 0; j0 < n; j0 += APT_J) {
        const int jn = min(APT_J, n - j0);
        barrier(CLK_LOCAL_MEM_FENCE);
#if APT_STAGE_U
        for (int q = lid; q < jn * APT_D; q += APT_WG) Uj[q] = U[(size_t)j0 * APT_D + q];
#endif
        for (int q = lid; q < jn; q += APT_WG) Rj[q] = r[j0 + q];
        for (int q = lid; q < APT_B * APT_J; q += APT_WG) {
            const int b = q / APT_J, jj = q % APT_J;
            Vj[q] = jj < jn ? V[(size_t)b * n + j0 + jj] : 0;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int jj = 0; jj < jn; ++jj) {
#if APT_STAGE_U
            __local const REAL *uj = Uj + jj * APT_D;
#else
            __global const REAL *uj = U + (size_t)(j0 + jj) * APT_D;
#endif
            REAL c = 0;
            for (int k = 0; k < APT_D; ++k) c += ui[k] * uj[k];
            REAL f;
            if (fabs(c) <= (REAL)0.5) {
                f = (REAL)0.25 + asin(c) / (2 * (REAL)REAL_PI);
            } else {
                REAL minus = 0, plus = 0;
                for (int k = 0; k < APT_D; ++k) {
                    const REAL a = ui[k], e = uj[k];
                    minus += (a - e) * (a - e); plus += (a + e) * (a + e);
                }
                f = (REAL)0.5 - atan2(sqrt(minus), sqrt(plus)) / (REAL)REAL_PI;
            }
            const REAL h = ri * Rj[jj] * c * f;
            for (int b = 0; b < APT_B; ++b) acc[b] += h * Vj[b * APT_J + jj];
        }
    }
    if (i < n)
        for (int b = 0; b < APT_B; ++b) Y[(size_t)b * n + i] = acc[b];
}
