/*
 * daemon_bench.c — `cmake --build build --target bench` entry for statestored: runs
 * bench/daemon/run.sh (wrk + hey over real sockets) with the built daemon and the fixed-200
 * ceiling server. The paths are baked in at build time.
 */
#include <stdio.h>
#include <unistd.h>

int main(void)
{
    char *const argv[] = {"bash", SS_BENCH_RUN_SH, SS_BENCH_STATESTORED, SS_BENCH_FIXED200, NULL};
    execvp("bash", argv);
    perror("bash");
    return 1;
}
