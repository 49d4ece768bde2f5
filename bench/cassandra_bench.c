/*
 * cassandra driver vs python3-cassandra (Debian's DataStax Python driver, the most direct
 * independent Cassandra client on the test machines; there is no packaged C client), doing the
 * same work on the same table, prepared statements at consistency ONE, protocol v4:
 *   get:  SELECT value, etag, TTL(value) ... WHERE key = ?
 *   set:  UPDATE ... USING TTL ? SET value = ?, etag = ? WHERE key = ? (last-write, 100 bytes)
 *   bulk of 100: 100 EXECUTEs in flight on one connection (the driver's pipeline; the Python
 *   driver's execute_concurrent_with_args with concurrency 100)
 * over 200 keys visited in bench/driver_side.h's order, which the Python side mirrors.
 * The reference runs as bench/cassandra_ref.py under /usr/bin/python3 (or $SS_BENCH_PYTHON) and
 * times itself after connecting; each round runs it, then the driver, and the best round of
 * each side counts. Ratio = driver / Python (higher is better; printed, never enforced).
 * Needs SS_TEST_CASSANDRA_PORT (scripts/services/cassandra.sh); exits 77 without it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "driver_side.h"
#include "harness.h"
#include "statestore.h"

#ifndef SS_CASSANDRA_REF
#define SS_CASSANDRA_REF "bench/cassandra_ref.py"
#endif

enum { NKEYS = 200, BULK = 100, ROUNDS = 3 };
enum { W_GET, W_SET, W_BULK_GET, W_BULK_SET, W_COUNT };
static const char *const wname[W_COUNT] = {"get", "set", "bulk_get", "bulk_set"};

static void die(const char *what)
{
    fprintf(stderr, "cassandra_bench: %s\n", what);
    exit(1);
}

/* Runs the Python reference once; fills ops[] with its rates. */
static void run_ref(const char *port, const char *user, const char *pw, size_t iters,
                    double ops[W_COUNT])
{
    const char *py = getenv("SS_BENCH_PYTHON");
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s %s 127.0.0.1 %s '%s' '%s' dapr items %zu",
             py && *py ? py : "/usr/bin/python3", SS_CASSANDRA_REF, port, user, pw, iters);
    FILE *f = popen(cmd, "r");
    if (!f) die("cannot run the python3-cassandra reference");
    char line[256];
    while (fgets(line, sizeof line, f)) {
        char name[32];
        double v;
        if (sscanf(line, "%31s %lf", name, &v) != 2) continue;
        for (int w = 0; w < W_COUNT; w++)
            if (!strcmp(name, wname[w])) ops[w] = v;
    }
    if (pclose(f) != 0)
        die("the python3-cassandra reference failed (is python3-cassandra installed?)");
}

int main(void)
{
    const char *port = getenv("SS_TEST_CASSANDRA_PORT");
    if (!port || !*port) {
        printf("skip: SS_TEST_CASSANDRA_PORT is not set (start scripts/services/cassandra.sh)\n");
        return 77;
    }
    const char *user = getenv("SS_TEST_CASSANDRA_USER");
    const char *pw = getenv("SS_TEST_CASSANDRA_PASSWORD");
    user = user ? user : "";
    pw = pw ? pw : "";
    static char keys[NKEYS][48], value[100];
    static ss_get_request greq[NKEYS];
    static ss_set_request sreq[NKEYS];
    ss_pair props[] = {{"hosts", "127.0.0.1"},
                       {"port", port},
                       {"consistency", "One"},
                       {"username", user},
                       {"password", pw}};
    ss_config cfg = {.driver = "cassandra", .properties = props, .property_count = *user ? 5 : 3};
    bench_driver b = {"cassandra", NULL, greq, sreq, NKEYS, BULK};
    ss_error err;
    if (ss_open(&b.store, &cfg, &err) != SS_OK) die(err.message);
    memset(value, 'v', sizeof value);
    for (int k = 0; k < NKEYS; k++) {
        snprintf(keys[k], sizeof keys[k], "bench-key-%03d", k);
        greq[k] = (ss_get_request){.key = keys[k]};
        sreq[k] = (ss_set_request){.key = keys[k], .value = value, .value_len = sizeof value};
    }
    for (size_t k = 0; k < NKEYS; k++) bench_driver_set(&b, k);

    size_t it = bench_iters(1000), bit = it / 10 + 1;
    printf("cassandra driver vs python3-cassandra, 127.0.0.1:%s, consistency ONE, 100-byte "
           "values, best of %d rounds\n",
           port, ROUNDS);
    void (*fns[W_COUNT])(void *, size_t) = {bench_driver_get, bench_driver_set,
                                            bench_driver_bulk_get, bench_driver_bulk_set};
    double best_ref[W_COUNT] = {0}, best_drv[W_COUNT] = {0};
    for (int round = 0; round < ROUNDS; round++) {
        double ref[W_COUNT] = {0};
        run_ref(port, user, pw, it, ref);
        for (int w = 0; w < W_COUNT; w++) {
            if (ref[w] > best_ref[w]) best_ref[w] = ref[w];
            size_t n = w >= W_BULK_GET ? bit : it, per = w >= W_BULK_GET ? BULK : 1;
            bench_rate r = bench_time(n, per, fns[w], &b);
            if (r.wall > best_drv[w]) best_drv[w] = r.wall;
        }
    }
    static const char *const label[W_COUNT] = {"get", "set (last-write)", "bulk get x100",
                                               "bulk set x100"};
    for (int w = 0; w < W_COUNT; w++) {
        printf("  %-18s python3-cassandra %9.0f ops/s   driver %9.0f ops/s\n", label[w],
               best_ref[w], best_drv[w]);
        bench_ratio(label[w], best_drv[w], best_ref[w], w >= W_BULK_GET ? 0.8 : 0.9);
    }
    ss_close(b.store);
    return 0;
}
