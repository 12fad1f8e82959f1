// common.cl — definitions shared by every kernel file; the host prepends it to each program.
// REAL is float or double (build option -DREAL=double needs cl_khr_fp64).
#ifndef REAL
#define REAL float
#endif
#if defined(USE_FP64)
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
#endif
