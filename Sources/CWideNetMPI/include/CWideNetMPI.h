// Open MPI's C API, loaded at run time (mpi_loader.c) only when a launcher started the process,
// so that the binary runs where no MPI is installed and pays no MPI start-up without one. Every
// call returns MPI's error code (0 is success).
#ifndef CWIDENETMPI_H
#define CWIDENETMPI_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// dlopen of `library` (Open MPI's libmpi.so.40) with its symbols global, as its components
/// need; 0 on success, else 1 with the reason in why (why_length bytes at most).
int wn_mpi_load(const char *library, char *why, long why_length);
/// MPI_Init with no arguments, then the rank and size of MPI_COMM_WORLD.
int wn_mpi_init(int *rank, int *size);
/// Every rank's `bytes` bytes, in rank order, into receive (size · bytes).
int wn_mpi_allgather_bytes(const void *send, long bytes, void *receive);
/// Element-wise integer sum over the ranks of count UInt32s (exact).
int wn_mpi_allreduce_sum_u32(const uint32_t *send, uint32_t *receive, long count);
int wn_mpi_barrier(void);
/// Ends every rank of the job with `code`.
void wn_mpi_abort(int code);
int wn_mpi_finalize(void);
/// MPI's text for an error code.
void wn_mpi_error_string(int code, char *text, long length);

#ifdef __cplusplus
}
#endif
#endif
