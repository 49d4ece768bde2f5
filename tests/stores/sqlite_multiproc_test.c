/*
 * sqlite_multiproc_test.c — several processes on one database file.
 *
 * Each of NPROC forked children opens its own store on the same file and increments one shared
 * counter NINC times with optimistic concurrency (get, then set with the ETag, retry on a
 * mismatch), and writes keys of its own. If ETags or locking were not honoured across
 * processes, increments would be lost and the final count would be short. The parent then
 * checks the count, every child's keys, and that the ETag it reads is the one the file holds.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <statestore.h>

#include "unit/check.h"

#define NPROC 4
#define NINC  50

static char dir[256];
static char path[512];

static ss_store *open_store(ss_error *err)
{
    /* No cleanup thread: the parent forks while its handle is open, and a fork copies only
     * the calling thread. */
    ss_pair props[] = {
        {"connectionString", path}, {"busyTimeout", "10s"}, {"cleanupInterval", "0"}};
    ss_config cfg = {.driver = "sqlite", .properties = props, .property_count = 3};
    ss_store *s = NULL;
    if (ss_open(&s, &cfg, err) != SS_OK) return NULL;
    return s;
}

/* Returns the number of failures (the exit code of the child). */
static int child(int id)
{
    ss_error err;
    ss_store *s = open_store(&err);
    if (!s) {
        fprintf(stderr, "child %d: open: %s\n", id, err.message);
        return 1;
    }
    int failures = 0;
    for (int i = 0; i < NINC; i++) {
        for (int attempt = 0;; attempt++) {
            ss_get_request g = {.key = "counter"};
            ss_value *v = NULL;
            if (ss_get(&v, s, &g, &err) != SS_OK || !v) {
                fprintf(stderr, "child %d: get counter: %s\n", id, v ? "" : err.message);
                ss_value_free(v);
                failures++;
                break;
            }
            long n = strtol(v->data, NULL, 10);
            char buf[32];
            int len = snprintf(buf, sizeof buf, "%ld", n + 1);
            ss_set_request r = {
                .key = "counter", .value = buf, .value_len = (size_t)len, .etag = v->etag};
            ss_code rc = ss_set(NULL, s, &r, &err);
            ss_value_free(v);
            if (rc == SS_OK) break;
            if (rc != SS_ETAG_MISMATCH || attempt > 100000) {
                fprintf(stderr, "child %d: set counter: %s\n", id, err.message);
                failures++;
                break;
            }
        }
        char key[64], val[64];
        snprintf(key, sizeof key, "child-%d-%d", id, i);
        int vl = snprintf(val, sizeof val, "value of %d/%d", id, i);
        ss_set_request r = {.key = key, .value = val, .value_len = (size_t)vl};
        if (ss_set(NULL, s, &r, &err) != SS_OK) {
            fprintf(stderr, "child %d: set %s: %s\n", id, key, err.message);
            failures++;
        }
    }
    ss_close(s);
    return failures > 100 ? 100 : failures;
}

int main(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/ss-sqlite-mp-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(path, sizeof path, "%s/shared.db", dir);

    ss_error err;
    ss_store *s = open_store(&err);
    CHECK(s != NULL);
    if (!s) {
        fprintf(stderr, "open: %s\n", err.message);
        return 1;
    }
    ss_set_request init = {.key = "counter", .value = "0", .value_len = 1};
    CHECK_RC(ss_set(NULL, s, &init, &err), SS_OK, &err);

    fflush(NULL);
    pid_t pids[NPROC];
    for (int i = 0; i < NPROC; i++) {
        pids[i] = fork();
        if (pids[i] == 0) _exit(child(i));
        CHECK(pids[i] > 0);
    }
    for (int i = 0; i < NPROC; i++) {
        int status = 0;
        if (pids[i] <= 0) continue;
        CHECK(waitpid(pids[i], &status, 0) == pids[i]);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }

    /* The parent's handle (opened before the children wrote) sees all their writes. */
    ss_get_request g = {.key = "counter"};
    ss_value *v = NULL;
    CHECK_RC(ss_get(&v, s, &g, &err), SS_OK, &err);
    CHECK(v != NULL);
    if (v) {
        long n = strtol(v->data, NULL, 10);
        if (n != NPROC * NINC) fprintf(stderr, "counter = %ld, want %d\n", n, NPROC * NINC);
        CHECK(n == NPROC * NINC);
        /* The ETag a child wrote is current here: a conditional write with it succeeds once,
         * and a second one with the same (now stale) ETag is a mismatch. */
        ss_set_request r = {.key = "counter", .value = "done", .value_len = 4, .etag = v->etag};
        CHECK_RC(ss_set(NULL, s, &r, &err), SS_OK, &err);
        CHECK_RC(ss_set(NULL, s, &r, &err), SS_ETAG_MISMATCH, &err);
        ss_value_free(v);
    }
    for (int id = 0; id < NPROC; id++) {
        for (int i = 0; i < NINC; i++) {
            char key[64], val[64];
            snprintf(key, sizeof key, "child-%d-%d", id, i);
            snprintf(val, sizeof val, "value of %d/%d", id, i);
            ss_get_request gk = {.key = key};
            v = NULL;
            CHECK_RC(ss_get(&v, s, &gk, &err), SS_OK, &err);
            CHECK(v && strcmp(v->data, val) == 0);
            ss_value_free(v);
        }
    }
    ss_close(s);

    char p[600];
    const char *suffix[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s%s", path, suffix[i]);
        unlink(p);
    }
    rmdir(dir);
    return check_done("sqlite_multiproc_test");
}
