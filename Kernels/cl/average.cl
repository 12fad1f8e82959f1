// average.cl — running means of parameters (Polyak–Ruppert averaging of SGD iterates).
//
// running_mean: mean[q] ← mean[q] + c·(x[q] − mean[q]) for q < count; with c = 1/k at the k-th
//   averaged iterate, mean is (1/k) Σ_{j≤k} x_j without keeping the iterates.
//   A fixed grid strides over the count (64-bit counters: a block's weights may pass 2^31 values);
//   elements at and past `count` are not touched.
//
//   group g:  items t = 0..AWG-1 take elements g·AWG + t, + G·AWG, ...
// Tuning parameters:
#ifndef AWG
#define AWG 128      // work-group size
#endif

__kernel __attribute__((reqd_work_group_size(AWG, 1, 1)))
void running_mean(const long count, const REAL c, __global const REAL *x, __global REAL *mean)
{
    const long G = get_num_groups(0);
    for (long q = (long)get_group_id(0) * AWG + get_local_id(0); q < count; q += G * AWG) {
        const REAL m = mean[q];
        mean[q] = m + c * (x[q] - m);
    }
}
