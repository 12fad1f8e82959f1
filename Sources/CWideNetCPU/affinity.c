#define _GNU_SOURCE
#include <sched.h>
#include "CWideNetCPU.h"

// The cores this process may run on (a launcher such as mpirun may bind it to fewer than the
// machine has, and Foundation's processor counts do not see that); 0 when unknown.
int wn_usable_cores(void) {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) != 0) return 0;
    return CPU_COUNT(&set);
}
