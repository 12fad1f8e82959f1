#include "CWideNetMPI.h"
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

// Open MPI's handles are pointers to its predefined objects (MPI_COMM_WORLD is &ompi_mpi_comm_world,
// MPI_BYTE &ompi_mpi_byte, …), so they are looked up by those symbols' names; an MPI whose handles
// are integers (MPICH) is refused at load time by their absence.
typedef void *wn_handle;
static struct {
    int (*init)(int *, char ***);
    int (*comm_rank)(wn_handle, int *);
    int (*comm_size)(wn_handle, int *);
    int (*allgather)(const void *, int, wn_handle, void *, int, wn_handle, wn_handle);
    int (*allreduce)(const void *, void *, int, wn_handle, wn_handle, wn_handle);
    int (*barrier)(wn_handle);
    int (*abort_job)(wn_handle, int);
    int (*finalize)(void);
    int (*error_string)(int, char *, int *);
    wn_handle world, byte, uint32, sum;
} mpi;

int wn_mpi_load(const char *library, char *why, long why_length) {
    void *lib = dlopen(library, RTLD_NOW | RTLD_GLOBAL);
    if (!lib) {
        snprintf(why, (size_t)why_length, "%s", dlerror());
        return 1;
    }
    struct { const char *name; void **slot; } symbols[] = {
        {"MPI_Init", (void **)&mpi.init}, {"MPI_Comm_rank", (void **)&mpi.comm_rank},
        {"MPI_Comm_size", (void **)&mpi.comm_size}, {"MPI_Allgather", (void **)&mpi.allgather},
        {"MPI_Allreduce", (void **)&mpi.allreduce}, {"MPI_Barrier", (void **)&mpi.barrier},
        {"MPI_Abort", (void **)&mpi.abort_job}, {"MPI_Finalize", (void **)&mpi.finalize},
        {"MPI_Error_string", (void **)&mpi.error_string}, {"ompi_mpi_comm_world", &mpi.world},
        {"ompi_mpi_byte", &mpi.byte}, {"ompi_mpi_uint32_t", &mpi.uint32}, {"ompi_mpi_op_sum", &mpi.sum},
    };
    for (size_t i = 0; i < sizeof symbols / sizeof symbols[0]; i++) {
        *symbols[i].slot = dlsym(lib, symbols[i].name);
        if (!*symbols[i].slot) {
            snprintf(why, (size_t)why_length, "%s has no %s (an Open MPI 4 or later library is needed)", library,
                     symbols[i].name);
            return 1;
        }
    }
    return 0;
}

int wn_mpi_init(int *rank, int *size) {
    int rc = mpi.init(NULL, NULL);
    if (rc == 0) rc = mpi.comm_rank(mpi.world, rank);
    if (rc == 0) rc = mpi.comm_size(mpi.world, size);
    return rc;
}

// Counts are ints in MPI: an allgather of more than 1 GiB a rank is refused (what crosses ranks is
// n partials a step); an all-reduce goes in pieces.
int wn_mpi_allgather_bytes(const void *send, long bytes, void *receive) {
    if (bytes > (1L << 30)) return -1;
    return mpi.allgather(send, (int)bytes, mpi.byte, receive, (int)bytes, mpi.byte, mpi.world);
}

int wn_mpi_allreduce_sum_u32(const uint32_t *send, uint32_t *receive, long count) {
    const long piece = 1L << 28;
    for (long first = 0; first < count; first += piece) {
        long n = count - first < piece ? count - first : piece;
        int rc = mpi.allreduce(send + first, receive + first, (int)n, mpi.uint32, mpi.sum, mpi.world);
        if (rc != 0) return rc;
    }
    return 0;
}

int wn_mpi_barrier(void) { return mpi.barrier(mpi.world); }
void wn_mpi_abort(int code) { mpi.abort_job(mpi.world, code); }
int wn_mpi_finalize(void) { return mpi.finalize(); }

void wn_mpi_error_string(int code, char *text, long length) {
    if (code == -1) { snprintf(text, (size_t)length, "a message over 1 GiB"); return; }
    char buffer[512];
    int n = 0;
    if (mpi.error_string && mpi.error_string(code, buffer, &n) == 0) snprintf(text, (size_t)length, "%.*s", n, buffer);
    else snprintf(text, (size_t)length, "MPI error %d", code);
}
