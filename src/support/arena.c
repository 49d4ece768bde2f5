/* arena.c — see arena.h. */
#include "support/arena.h"

#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* A block serves many small allocations (a request's keys, pairs and decoded strings) with one
 * malloc; anything over a quarter of it gets its own. The size stays within glibc's per-thread
 * cache (tcache: chunks up to 1032 bytes), so a request's block is recycled without locking. */
#define ARENA_BLOCK 1008

static bool own(ss_arena *a, void *p)
{
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 8;
        void **np = realloc(a->owned, cap * sizeof *np);
        if (!np) return false;
        a->owned = np;
        a->cap = cap;
    }
    a->owned[a->n++] = p;
    return true;
}

void *ss_arena_keep(ss_arena *a, void *p)
{
    if (!p || !own(a, p)) {
        free(p);
        a->oom = true;
        return NULL;
    }
    return p;
}

void *ss_arena_alloc(ss_arena *a, size_t n)
{
    const size_t align = alignof(max_align_t);
    if (n > SIZE_MAX - align) {
        a->oom = true;
        return NULL;
    }
    n = n ? (n + align - 1) & ~(align - 1) : align;
    if (n > ARENA_BLOCK / 4) return ss_arena_keep(a, calloc(1, n));
    if (n > a->left) {
        char *block = ss_arena_keep(a, malloc(ARENA_BLOCK));
        if (!block) return NULL;
        a->next = block;
        a->left = ARENA_BLOCK;
    }
    char *p = a->next;
    a->next += n;
    a->left -= n;
    memset(p, 0, n);
    return p;
}

void ss_arena_free(ss_arena *a)
{
    if (!a) return;
    for (size_t i = 0; i < a->n; i++) free(a->owned[i]);
    free(a->owned);
    memset(a, 0, sizeof *a);
}
