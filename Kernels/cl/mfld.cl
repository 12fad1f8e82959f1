// mfld.cl — mean-field Langevin dynamics of a two-layer network's particles (ARCHITECTURE.md §1.2).
//
// Dimension letters: B samples in the (mini)batch, d input dimension, N particles in this block,
// D = d + 2 coordinates per particle. Particles are rows of P (N×D): θ_i = (w_i ∈ R^d, b_i, a_i).
//
//   P:  i →  [ w_1 … w_d | b | a ]      X: B×d (the batch), c: B (ℓ'_j / B)
//
// Units (UNIT): 0 tanh  h = a·tanh(wᵀx + b)
//               1 relu  h = a·relu(wᵀx + b)
//               2 bounded h = R·tanh(a)·tanh(wᵀx + b)    (R = unit_scale)
//
// mfld_forward: as ntk_forward, a work-group is FWD_TN samples × FWD_WQ·32 particles; each item
//   accumulates z = wᵀx + b for 32 particles in registers and writes Σ h into a per-group partial
//   (summed by sum_partials in reduce.cl), so f(x_j) = (1/N) Σ_i h(θ_i, x_j) needs no B×N matrix.
// mfld_gradient: one work-item per particle, G_i = scale·Σ_j c_j ∇h(θ_i, x_j) (SVRG's snapshot terms).
// mfld_update: one work-item per particle, fused gradient, weight decay and Philox noise:
//   θ ← θ − η (Σ_j c_j ∇_θ h(θ, x_j) + 2λ'θ) + √(2λη) ξ,
//   ξ the Philox normal of element (offset + i·D + coordinate) of stream 3 at step `step`.
//   The particle's w and gradient live in registers: DIM = d is a build option (≤ 256).
//
// Tuning parameters:
// FWD_TN, FWD_WQ, FWD_KC: the forward tiles, documented in rowtile.cl (built in front of this file).
#ifndef UPD_WG
#define UPD_WG 64    // particles per update work-group
#endif
#ifndef UPD_SC
#define UPD_SC 32    // batch samples staged per step in the update (the host lowers it so that
#endif               // Xs[UPD_SC][DIM] fits the device's local memory)
#ifndef UNIT
#define UNIT 0
#endif
#ifndef DIM
#define DIM 1
#endif

inline REAL mfld_sigma(const REAL z)
{
#if UNIT == 1
    return fmax(z, (REAL)0);
#else
    return tanh(z);
#endif
}

// dσ/dz given z and σ(z).
inline REAL mfld_sigma_prime(const REAL z, const REAL s)
{
#if UNIT == 1
    return z >= (REAL)0 ? (REAL)1 : (REAL)0;
#else
    return (REAL)1 - s * s;
#endif
}

__kernel __attribute__((reqd_work_group_size(FWD_ITEMS, 1, 1)))
void mfld_forward(const int B, const int d, const int N, const REAL unit_scale,
                  __global const REAL *X, __global const REAL *P, __global REAL *partials, const int group1_base)
{
    const int D = d + 2;
    const int p0 = rowtile_word() * 32;
    __local REAL Xs[FWD_TN][FWD_KC + 1];
    __local REAL Ws[FWD_WQ * 32][FWD_KC + 1];
    __local REAL sums[FWD_WQ][FWD_TN];
    REAL z[32];
    rowtile_z(B, d, N, D, group1_base, X, P, Xs, Ws, z);
    REAL acc = 0;
    // A guard rather than a break: the loop keeps its compile-time trip count, so z stays in registers.
    #pragma unroll
    for (int r = 0; r < 32; ++r) {
        const int p = p0 + r;
        if (p < N) {
            const REAL zr = z[r] + P[(size_t)p * D + d];
            const REAL a = P[(size_t)p * D + d + 1];
#if UNIT == 2
            acc += unit_scale * tanh(a) * tanh(zr);
#else
            acc += a * mfld_sigma(zr);
#endif
        }
    }
    rowtile_group_sum(B, group1_base, acc, sums, partials);
}

// The data part of one particle's gradient, Σ_j c_j ∇_θ h(θ, x_j), over the batch staged through
// local memory (every item of the group must call it: it has barriers). w holds the particle's
// first d coordinates; gw, gb, ga receive the gradient.
inline void mfld_particle_gradient(const int B, const REAL unit_scale, __global const REAL *X, __global const REAL *c,
                                   const REAL *w, const REAL b, const REAL a,
                                   __local REAL (*Xs)[DIM], __local REAL *Cs, REAL *gw, REAL *gb, REAL *ga)
{
    const int d = DIM, li = get_local_id(0);
#if UNIT == 2
    const REAL ta = tanh(a);
    const REAL outer = unit_scale * ta;                      // ∂h/∂σ
#else
    const REAL outer = a;
#endif
    for (int k = 0; k < DIM; ++k) gw[k] = 0;
    *gb = 0; *ga = 0;
    for (int j0 = 0; j0 < B; j0 += UPD_SC) {
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int t = li; t < UPD_SC * DIM; t += UPD_WG) {
            const int jj = t / DIM, kk = t % DIM;
            Xs[jj][kk] = (j0 + jj < B) ? X[(size_t)(j0 + jj) * d + kk] : (REAL)0;
        }
        for (int t = li; t < UPD_SC; t += UPD_WG) Cs[t] = (j0 + t < B) ? c[j0 + t] : (REAL)0;
        barrier(CLK_LOCAL_MEM_FENCE);
        const int lim = min(UPD_SC, B - j0);
        for (int jj = 0; jj < lim; ++jj) {
            REAL z = b;
            for (int k = 0; k < DIM; ++k) z += w[k] * Xs[jj][k];
            const REAL s = mfld_sigma(z);
            const REAL dz = Cs[jj] * outer * mfld_sigma_prime(z, s);
            for (int k = 0; k < DIM; ++k) gw[k] += dz * Xs[jj][k];
            *gb += dz;
#if UNIT == 2
            *ga += Cs[jj] * unit_scale * ((REAL)1 - ta * ta) * s;
#else
            *ga += Cs[jj] * s;
#endif
        }
    }
}

// G_i ← scale · Σ_j c_j ∇h(θ_i, x_j) (+ G_i when accumulate): the pieces of the SVRG estimate.
__kernel __attribute__((reqd_work_group_size(UPD_WG, 1, 1)))
void mfld_gradient(const int B, const int N, const REAL unit_scale, const REAL scale, const int accumulate,
                   __global const REAL *X, __global const REAL *c, __global const REAL *P, __global REAL *G)
{
    const int d = DIM, D = DIM + 2;
    const int i = get_group_id(0) * UPD_WG + get_local_id(0);
    const int ic = i < N ? i : N - 1;
    REAL w[DIM], gw[DIM], gb, ga;
    for (int k = 0; k < DIM; ++k) w[k] = P[(size_t)ic * D + k];
    __local REAL Xs[UPD_SC][DIM];
    __local REAL Cs[UPD_SC];
    mfld_particle_gradient(B, unit_scale, X, c, w, P[(size_t)ic * D + d], P[(size_t)ic * D + d + 1], Xs, Cs, gw, &gb, &ga);
    if (i >= N) return;
    for (int q = 0; q < D; ++q) {
        const REAL g = scale * (q < d ? gw[q] : (q == d ? gb : ga));
        G[(size_t)i * D + q] = accumulate ? G[(size_t)i * D + q] + g : g;
    }
}

#ifdef WITH_PHILOX
// extra (when has_extra): a precomputed gradient added to the data gradient (the SVRG correction).
__kernel __attribute__((reqd_work_group_size(UPD_WG, 1, 1)))
void mfld_update(const int B, const int N, const REAL unit_scale, const REAL lr, const REAL decay,
                 const REAL noise, const int data_on,
                 __global const REAL *X, __global const REAL *c, __global REAL *P,
                 const uint offset_lo, const uint offset_hi, const uint key0, const uint key1, const uint step,
                 const int has_extra, __global const REAL *extra)
{
    const int d = DIM, D = DIM + 2;
    const int i = get_group_id(0) * UPD_WG + get_local_id(0);
    const int ic = i < N ? i : N - 1;
    REAL w[DIM], gw[DIM], gb = 0, ga = 0;
    for (int k = 0; k < DIM; ++k) { w[k] = P[(size_t)ic * D + k]; gw[k] = 0; }
    const REAL b = P[(size_t)ic * D + d], a = P[(size_t)ic * D + d + 1];
    __local REAL Xs[UPD_SC][DIM];
    __local REAL Cs[UPD_SC];
    if (data_on) mfld_particle_gradient(B, unit_scale, X, c, w, b, a, Xs, Cs, gw, &gb, &ga);
    if (i >= N) return;
    // The deterministic part first, with compile-time indices so w and gw stay in registers; then
    // the noise of coordinates e = offset + i·D + q is added a Philox block (four normals) at a
    // time, each lane to its own coordinate of the row, so no private array is indexed at run time.
    __global REAL *row = P + (size_t)i * D;
    #pragma unroll
    for (int q = 0; q < DIM; ++q) {
        const REAL g = gw[q] + (has_extra ? extra[(size_t)i * D + q] : (REAL)0);
        row[q] = w[q] - lr * (g + decay * w[q]);
    }
    {
        const REAL g = gb + (has_extra ? extra[(size_t)i * D + d] : (REAL)0);
        row[d] = b - lr * (g + decay * b);
        const REAL h = ga + (has_extra ? extra[(size_t)i * D + d + 1] : (REAL)0);
        row[d + 1] = a - lr * (h + decay * a);
    }
    if (noise == (REAL)0) return;
    const ulong base = (((ulong)offset_hi << 32) | (ulong)offset_lo) + (ulong)i * D;
    const uint2 key = (uint2)(key0, key1);
    for (ulong group = base >> 2; group <= (base + D - 1) >> 2; ++group) {
        const real4_t nz = philox_normal4_real(philox_bits(group, 3u, step, key));
        const ulong e0 = group << 2;
        if (e0 >= base && e0 < base + D) row[e0 - base] += noise * (REAL)nz.x;
        if (e0 + 1 >= base && e0 + 1 < base + D) row[e0 + 1 - base] += noise * (REAL)nz.y;
        if (e0 + 2 >= base && e0 + 2 < base + D) row[e0 + 2 - base] += noise * (REAL)nz.z;
        if (e0 + 3 >= base && e0 + 3 < base + D) row[e0 + 3 - base] += noise * (REAL)nz.w;
    }
}
#endif
