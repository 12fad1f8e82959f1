// common.cl — definitions shared by every kernel file; the host prepends it to each program.
// REAL is float or double; USE_FP64 enables cl_khr_fp64 (needed for REAL=double only).
#if defined(USE_FP64)
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
#endif
#ifndef REAL
#define REAL float
#endif
#ifndef REAL_IS_DOUBLE
#define REAL_IS_DOUBLE 0
#endif
#if REAL_IS_DOUBLE
#define REAL_PI M_PI
#else
#define REAL_PI M_PI_F
#endif
