// The largest errors of the float Box–Muller pieces (Sources/CWideNetCPU/philox_normal_f32.h, the
// same expressions as PhiloxFloat.swift and philox.cl's *_f32) against double libm, over every
// input: all 2^32 words for the uniform, −2 log u and the radius; all 2^23 angles for cos and sin.
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include "philox_normal_f32.h"

static double ulp_of(double exact) {
    float a = fabsf((float)exact);
    return (double)(nextafterf(a, INFINITY) - a);
}

int main(void) {
    double worst_log = 0, worst_radius = 0;
    uint32_t at_log = 0, at_radius = 0;
    uint64_t uniform_mismatches = 0, radius_zero = 0;
    for (uint64_t w = 0; w < (1ull << 32); w++) {
        uint32_t x = (uint32_t)w;
        float u = wn_u01_f32(x);
        if (u != (float)(((double)x + 0.5) * 0x1p-32)) uniform_mismatches++;
        float v = wn_minus_two_log_f32(u);
        float r = wn_sqrt_f32(v);
        double exact_v = -2.0 * log((double)u), exact_r = sqrt(exact_v);
        if (exact_v == 0) { radius_zero += (r == 0); continue; }
        double e = fabs((double)v - exact_v) / ulp_of(exact_v);
        if (e > worst_log) { worst_log = e; at_log = x; }
        e = fabs((double)r - exact_r) / ulp_of(exact_r);
        if (e > worst_radius) { worst_radius = e; at_radius = x; }
    }
    double worst_angle = 0;
    uint32_t at_angle = 0;
    for (uint64_t k = 0; k < (1ull << 23); k++) {
        uint32_t b = (uint32_t)(k << 9);
        float c, s;
        wn_cos_sin_2pi_f32(b, &c, &s);
        double t = 2.0 * M_PI * (((double)k + 0.5) * 0x1p-23);
        double e = fmax(fabs((double)c - cos(t)), fabs((double)s - sin(t)));
        if (e > worst_angle) { worst_angle = e; at_angle = b; }
    }
    printf("{\n  \"inputs\": {\"words\": 4294967296, \"angles\": 8388608},\n"
           "  \"uniform_differs_from_rounded_double\": %llu,\n"
           "  \"minus_two_log_u_max_ulp\": %.4f, \"minus_two_log_u_worst_word\": %u,\n"
           "  \"radius_max_ulp\": %.4f, \"radius_worst_word\": %u,\n"
           "  \"radius_zero_where_u_is_1\": %llu,\n"
           "  \"cos_sin_max_abs\": %.4g, \"cos_sin_worst_word\": %u\n}\n",
           (unsigned long long)uniform_mismatches, worst_log, at_log, worst_radius, at_radius,
           (unsigned long long)radius_zero, worst_angle, at_angle);
    return 0;
}
