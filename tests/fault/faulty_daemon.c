/* faulty_daemon.c — linked into the test build of statestored only: makes "faulty" a driver it
 * knows before main() reads the component files. */
#include "fault/faulty.h"

#include <stdio.h>
#include <stdlib.h>

__attribute__((constructor)) static void register_faulty(void)
{
    ss_error err = {0};
    if (ss_faulty_register(&err) != SS_OK) {
        fprintf(stderr, "statestored_faulty: %s\n", err.message);
        exit(1);
    }
}
