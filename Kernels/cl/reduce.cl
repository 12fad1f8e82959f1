// reduce.cl — deterministic reductions for the NTK diagnostics.
//
// Dimension letters: m block width, d input dimension, count = n·words mask words.
// Each work-group reduces a strided slice with a fixed tree and writes one partial per group;
// element counters are 64-bit: a count near 2^31 would carry an int past its end.
// the host combines the partials in group order, so results never depend on scheduling.
//
//   group g:  items t = 0..RWG-1 take elements g·RWG + t, + G·RWG, ...  → tree → out[g]
//
// sum_partials: out[i] = Σ_g partials[g·n + i], one work-group per output i (the forward passes'
//   per-group partial outputs), strided sums then a fixed tree.
// sum_squares: out[g] = Σ x² over its slice of a buffer (the regulariser E‖θ‖²).
// max_move_sq: out[g] = max over its neurons r of ‖w_r − w0_r‖².
// max_move_sq_philox: the same with w0 regenerated from the Philox hidden-weight stream
//   (element offset + r·d + k, times scale), so no copy of the initial weights is kept.
//   Built with philox.cl prepended (-DWITH_PHILOX).
// mask_flips:  out[g] = Σ popcount(masks ^ masks0) over its words.
// Tuning parameters:
#ifndef RWG
#define RWG 128      // work-group size (power of two)
#endif

// Fixed-shape tree reductions over a work-group of RWG items; every item gets the result.
inline REAL group_sum(__local REAL *s, const REAL v)
{
    const int t = get_local_id(0);
    s[t] = v;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int h = RWG / 2; h > 0; h >>= 1) {
        if (t < h) s[t] += s[t + h];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    return s[0];
}

inline REAL group_max(__local REAL *s, const REAL v)
{
    const int t = get_local_id(0);
    s[t] = v;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int h = RWG / 2; h > 0; h >>= 1) {
        if (t < h) s[t] = fmax(s[t], s[t + h]);
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    return s[0];
}

inline uint group_sum_uint(__local uint *s, const uint v)
{
    const int t = get_local_id(0);
    s[t] = v;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int h = RWG / 2; h > 0; h >>= 1) {
        if (t < h) s[t] += s[t + h];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    return s[0];
}

__kernel __attribute__((reqd_work_group_size(RWG, 1, 1)))
void sum_partials(const int n, const int groups, __global const REAL *partials, __global REAL *out)
{
    const int i = get_group_id(0), t = get_local_id(0);
    __local REAL s[RWG];
    REAL acc = 0;
    for (long g = t; g < groups; g += RWG) acc += partials[(size_t)g * n + i];
    const REAL total = group_sum(s, acc);
    if (t == 0) out[i] = total;
}

__kernel __attribute__((reqd_work_group_size(RWG, 1, 1)))
void sum_squares(const long count, __global const REAL *x, __global REAL *out)
{
    const long t = get_local_id(0), G = get_num_groups(0);
    __local REAL s[RWG];
    REAL acc = 0;
    for (long q = (long)get_group_id(0) * RWG + t; q < count; q += G * RWG) acc += x[q] * x[q];
    const REAL total = group_sum(s, acc);
    if (t == 0) out[get_group_id(0)] = total;
}

__kernel __attribute__((reqd_work_group_size(RWG, 1, 1)))
void max_move_sq(const int m, const int d, __global const REAL *W, __global const REAL *W0, __global REAL *out)
{
    const long t = get_local_id(0), G = get_num_groups(0);
    __local REAL s[RWG];
    REAL best = 0;
    for (long r = (long)get_group_id(0) * RWG + t; r < m; r += G * RWG) {
        REAL acc = 0;
        for (int k = 0; k < d; ++k) {
            const REAL v = W[(size_t)r * d + k] - W0[(size_t)r * d + k];
            acc += v * v;
        }
        best = fmax(best, acc);
    }
    const REAL top = group_max(s, best);
    if (t == 0) out[get_group_id(0)] = top;
}

__kernel __attribute__((reqd_work_group_size(RWG, 1, 1)))
void mask_flips(const long count, __global const uint *masks, __global const uint *masks0, __global uint *out)
{
    const long t = get_local_id(0), G = get_num_groups(0);
    __local uint s[RWG];
    uint c = 0;
    for (long q = (long)get_group_id(0) * RWG + t; q < count; q += G * RWG) c += popcount(masks[q] ^ masks0[q]);
    const uint total = group_sum_uint(s, c);
    if (t == 0) out[get_group_id(0)] = total;
}

#ifdef WITH_PHILOX
__kernel __attribute__((reqd_work_group_size(RWG, 1, 1)))
void max_move_sq_philox(const int m, const int d, __global const REAL *W, __global REAL *out,
                        const uint offset_lo, const uint offset_hi, const uint key0, const uint key1, const REAL scale)
{
    const long t = get_local_id(0), G = get_num_groups(0);
    const ulong offset = ((ulong)offset_hi << 32) | (ulong)offset_lo;
    const uint2 key = (uint2)(key0, key1);
    __local REAL s[RWG];
    REAL best = 0;
    for (long r = (long)get_group_id(0) * RWG + t; r < m; r += G * RWG) {
        REAL acc = 0;
        for (int k = 0; k < d; ++k) {
            const ulong e = offset + (ulong)r * d + k;
            const uint4 bits = philox_bits(e >> 2, 1u, 0u, key);   // stream 1: hidden weights
            const REAL w0 = philox_value(bits, (uint)(e & 3), 0) * scale;
            const REAL v = W[(size_t)r * d + k] - w0;
            acc += v * v;
        }
        best = fmax(best, acc);
    }
    const REAL top = group_max(s, best);
    if (t == 0) out[get_group_id(0)] = top;
}
#endif
