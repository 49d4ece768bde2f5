/*
 * arena.h — everything one request (daemon) or one command (CLI) allocates, freed together:
 * small allocations are carved from shared blocks, and any malloc'd pointer can be handed over.
 * An allocation failure sets `oom`, so a caller allocates freely and checks once.
 */
#ifndef SS_SUPPORT_ARENA_H
#define SS_SUPPORT_ARENA_H

#include <stdbool.h>
#include <stddef.h>

/* Zero-initialise ({0}) to start; release with ss_arena_free. The fields are private. */
typedef struct ss_arena {
    void **owned; /* blocks and handed-over pointers */
    size_t n, cap;
    char *next; /* free space in the newest block */
    size_t left;
    bool oom;
} ss_arena;

/* Takes ownership of p (from malloc) and returns it; NULL p, or no room to record it, sets oom
 * and returns NULL (p is then freed). */
void *ss_arena_keep(ss_arena *a, void *p);
/* n zeroed bytes aligned for any type, freed with the arena; NULL (and oom) on failure. */
void *ss_arena_alloc(ss_arena *a, size_t n);
/* Frees everything the arena holds and resets it for reuse. Accepts NULL. */
void ss_arena_free(ss_arena *a);

#endif
