// OpenBLAS's cblas and LAPACKE (Debian: libopenblas-dev, liblapacke-dev).
#include <cblas.h>
#include <lapacke.h>
// OpenBLAS extension: lets the CPU backend report and set its thread count.
int openblas_get_num_threads(void);
void openblas_set_num_threads(int);
char* openblas_get_config(void);
