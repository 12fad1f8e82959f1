// resnet.cl — the element-wise work of a residual network's blocks (ResidualNet) and the parameter
// updates; the matrix products around them are GEMMs.
//
// Dimension letters: P points of the batch, m the block width; count = P·m.
// resnet_bias_activation: Z[p·m + j] += c[j], then A = σ(Z): the block's pre-activations and hidden
//   values, both kept for the backward pass.
// resnet_activation_backward: D[q] ← s·D[q]·σ′(Z[q]) (tanh: 1 − A², relu: 1{Z > 0}, linear: 1), s = h.
// resnet_axpby: Y[q] ← a·X[q] + b·Y[q], the LM-ResNet's two-step combination (1 − k)x_l + k x_{l−1}
//   and its backward.
// parameter_step: θ ← θ − η·u over count values, u by OPT: 0 gd (u = g); 1 momentum (M ← βM + g, u = M);
//   2 adam (M ← β₁M + (1 − β₁)g, S ← β₂S + (1 − β₂)g², u = (M/c₁)/(√(S/c₂) + ε), c = bias corrections).
//
// All three stride over the count from a fixed grid (64-bit counters), as running_mean does.
// Tuning parameters:
#ifndef EWG
#define EWG 128      // work-group size
#endif
#ifndef ACT
#define ACT 0        // 0 tanh, 1 relu, 2 linear
#endif
#ifndef OPT
#define OPT 0        // 0 gd, 1 momentum, 2 adam
#endif

inline REAL act_value(const REAL z)
{
#if ACT == 0
    return tanh(z);
#elif ACT == 1
    return fmax(z, (REAL)0);
#else
    return z;
#endif
}

inline REAL act_slope(const REAL z, const REAL a)
{
#if ACT == 0
    return (REAL)1 - a * a;
#elif ACT == 1
    return z > 0 ? (REAL)1 : (REAL)0;
#else
    return (REAL)1;
#endif
}

__kernel __attribute__((reqd_work_group_size(EWG, 1, 1)))
void resnet_bias_activation(const long count, const int m, __global REAL *Z, __global const REAL *c, __global REAL *A)
{
    const long G = get_num_groups(0);
    for (long q = (long)get_group_id(0) * EWG + get_local_id(0); q < count; q += G * EWG) {
        const REAL z = Z[q] + c[q % m];
        Z[q] = z;
        A[q] = act_value(z);
    }
}

__kernel __attribute__((reqd_work_group_size(EWG, 1, 1)))
void resnet_activation_backward(const long count, const REAL s, __global REAL *D, __global const REAL *Z, __global const REAL *A)
{
    const long G = get_num_groups(0);
    for (long q = (long)get_group_id(0) * EWG + get_local_id(0); q < count; q += G * EWG)
        D[q] = s * D[q] * act_slope(Z[q], A[q]);
}

__kernel __attribute__((reqd_work_group_size(EWG, 1, 1)))
void parameter_step(const long count, const REAL lr, const REAL beta1, const REAL beta2, const REAL eps, const REAL c1,
                    const REAL c2, __global REAL *theta, __global const REAL *g, __global REAL *M, __global REAL *S)
{
    const long G = get_num_groups(0);
    for (long q = (long)get_group_id(0) * EWG + get_local_id(0); q < count; q += G * EWG) {
        const REAL gq = g[q];
#if OPT == 0
        const REAL u = gq;
#elif OPT == 1
        const REAL u = beta1 * M[q] + gq;
        M[q] = u;
#else
        const REAL mq = beta1 * M[q] + ((REAL)1 - beta1) * gq;
        const REAL sq = beta2 * S[q] + ((REAL)1 - beta2) * gq * gq;
        M[q] = mq; S[q] = sq;
        const REAL u = (mq / c1) / (sqrt(sq / c2) + eps);
#endif
        theta[q] = theta[q] - lr * u;
    }
}

__kernel __attribute__((reqd_work_group_size(EWG, 1, 1)))
void resnet_axpby(const long count, const REAL a, __global const REAL *X, const REAL b, __global REAL *Y)
{
    const long G = get_num_groups(0);
    for (long q = (long)get_group_id(0) * EWG + get_local_id(0); q < count; q += G * EWG)
        Y[q] = a * X[q] + b * Y[q];
}
