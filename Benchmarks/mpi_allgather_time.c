/* The wire cost of widenet's per-step exchange, alone: MPI_Allgather of BYTES bytes per rank.
 *
 *   mpicc -O2 -o allgather Benchmarks/mpi_allgather_time.c
 *   mpirun -np 2 ./allgather BYTES [REPS=2000] [WARMUP=200]
 *
 * Every repetition starts after a barrier, so a rank's time is the collective's own (no skew
 * carried over from the previous one); a repetition's time is the slowest rank's (what a step
 * would wait). Rank 0 prints one JSON object: median, p90, min and max in microseconds.
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

static int by_value(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (argc < 2) {
        if (rank == 0) fprintf(stderr, "usage: %s BYTES [REPS] [WARMUP]\n", argv[0]);
        MPI_Abort(MPI_COMM_WORLD, 2);
    }
    long bytes = atol(argv[1]);
    int reps = argc > 2 ? atoi(argv[2]) : 2000, warmup = argc > 3 ? atoi(argv[3]) : 200;
    char *send = malloc(bytes > 0 ? bytes : 1), *recv = malloc(bytes * size > 0 ? bytes * size : 1);
    double *t = malloc(sizeof(double) * reps), *slowest = malloc(sizeof(double) * reps);
    for (long i = 0; i < bytes; i++) send[i] = (char)(rank + i);

    for (int r = -warmup; r < reps; r++) {
        MPI_Barrier(MPI_COMM_WORLD);
        double t0 = MPI_Wtime();
        MPI_Allgather(send, (int)bytes, MPI_BYTE, recv, (int)bytes, MPI_BYTE, MPI_COMM_WORLD);
        if (r >= 0) t[r] = (MPI_Wtime() - t0) * 1e6;
    }
    MPI_Reduce(t, slowest, reps, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
    if (rank == 0) {
        qsort(slowest, reps, sizeof(double), by_value);
        printf("{\"ranks\": %d, \"bytes_per_rank\": %ld, \"reps\": %d, \"warmup\": %d, "
               "\"median_us\": %.3f, \"p90_us\": %.3f, \"min_us\": %.3f, \"max_us\": %.3f}\n",
               size, bytes, reps, warmup, slowest[reps / 2], slowest[(int)(0.9 * (reps - 1))],
               slowest[0], slowest[reps - 1]);
    }
    free(send); free(recv); free(t); free(slowest);
    MPI_Finalize();
    return 0;
}
