/*
 * Failover on a real 3-member etcd cluster (scripts/services/etcd-cluster.sh): while two threads
 * keep writing and reading through the driver, the member the driver talks to is stopped. Every
 * operation must still succeed through the other two (transient errors during a leader election
 * are retried by the library's retry policy, as a user would configure it). The member is started
 * again at the end so the test can run more than once against the same cluster.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "statestore.h"

#ifndef SS_ETCD_CLUSTER_SCRIPT
#define SS_ETCD_CLUSTER_SCRIPT "scripts/services/etcd-cluster.sh"
#endif

static ss_store *store;
static atomic_int stop_flag;
static atomic_int failures;
static atomic_long ops_done;
static char prefix[64];

static const ss_retry retry = {.pattern = SS_LINEAR, .interval_ms = 250, .threshold = 40};

static void *worker(void *arg)
{
    int id = (int)(long)arg;
    for (long i = 0; !atomic_load(&stop_flag); i++) {
        char key[64], val[64];
        snprintf(key, sizeof key, "w%d-%ld", id, i % 20);
        snprintf(val, sizeof val, "value-%d-%ld", id, i);
        ss_error err;
        char *etag = NULL;
        ss_set_request s = {.key = key, .value = val, .value_len = strlen(val)};
        s.options.retry = retry;
        if (ss_set(&etag, store, &s, &err) != SS_OK) {
            fprintf(stderr, "FAIL set %s: %s\n", key, err.message);
            atomic_fetch_add(&failures, 1);
            continue;
        }
        ss_value *v = NULL;
        ss_get_request g = {.key = key, .consistency = SS_STRONG};
        ss_code c = ss_get(&v, store, &g, &err);
        for (int t = 0; c != SS_OK && ss_code_retryable(c) && t < 40; t++) {
            usleep(250000);
            c = ss_get(&v, store, &g, &err);
        }
        if (c != SS_OK || !v || v->len != strlen(val) || memcmp(v->data, val, v->len) != 0 ||
            strcmp(v->etag, etag) != 0) {
            fprintf(stderr, "FAIL get %s: code %d %s\n", key, c, c ? err.message : "wrong value");
            atomic_fetch_add(&failures, 1);
        }
        ss_value_free(v);
        ss_free(etag);
        atomic_fetch_add(&ops_done, 2);
    }
    return NULL;
}

static int run_script(const char *what, const char *dir, int member)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "bash '%s' %s '%s' %d", SS_ETCD_CLUSTER_SCRIPT, what, dir, member);
    return system(cmd);
}

int main(void)
{
    const char *eps = getenv("SS_TEST_ETCD_CLUSTER_ENDPOINTS");
    const char *dir = getenv("SS_TEST_ETCD_CLUSTER_DIR");
    if (!eps || !*eps || !dir || !*dir) {
        printf("skip: SS_TEST_ETCD_CLUSTER_ENDPOINTS/DIR not set (start "
               "scripts/services/etcd-cluster.sh)\n");
        return 77;
    }
    snprintf(prefix, sizeof prefix, "clustertest-%ld", (long)time(NULL));
    ss_pair props[] = {{"endpoints", eps}, {"keyPrefixPath", prefix}};
    ss_config cfg = {.driver = "etcd", .name = "cluster", .properties = props, .property_count = 2};
    ss_error err;
    if (run_script("start-member", dir, 1) != 0) {
        fprintf(stderr, "FAIL: member 1 could not be started before the test\n");
        return 1;
    }
    if (ss_open(&store, &cfg, &err) != SS_OK) {
        fprintf(stderr, "FAIL open: %s\n", err.message);
        return 1;
    }
    pthread_t th[2];
    for (long i = 0; i < 2; i++) pthread_create(&th[i], NULL, worker, (void *)i);
    while (atomic_load(&ops_done) < 100) usleep(10000);
    long before = atomic_load(&ops_done);
    /* Member 1 is the first endpoint: the one every call starts with. */
    int rc = run_script("stop-member", dir, 1);
    long at_stop = atomic_load(&ops_done);
    while (atomic_load(&ops_done) < at_stop + 200 && atomic_load(&failures) == 0) usleep(10000);
    atomic_store(&stop_flag, 1);
    for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
    long after = atomic_load(&ops_done) - at_stop;

    /* A transaction and a bulk read with one member down. */
    ss_operation ops[2] = {
        {.kind = SS_OP_UPSERT, .set = {.key = "tx-a", .value = "1", .value_len = 1}},
        {.kind = SS_OP_UPSERT, .set = {.key = "tx-b", .value = "2", .value_len = 1}},
    };
    ss_transaction tx = {.ops = ops, .count = 2};
    ss_code c = ss_transact(store, &tx, &err);
    if (c != SS_OK) {
        fprintf(stderr, "FAIL transaction with a member down: %s\n", err.message);
        atomic_fetch_add(&failures, 1);
    }
    ss_get_request gets[2] = {{.key = "tx-a"}, {.key = "tx-b"}};
    ss_results res = {0};
    c = ss_bulk_get(&res, store, gets, 2, NULL, &err);
    if (c != SS_OK || res.count != 2 || !res.items[0].value || !res.items[1].value) {
        fprintf(stderr, "FAIL bulk get with a member down\n");
        atomic_fetch_add(&failures, 1);
    }
    ss_results_free(&res);
    ss_close(store);
    int restart = run_script("start-member", dir, 1);

    printf("ops before stop: %ld, after stop: %ld, failures: %d\n", before, after,
           atomic_load(&failures));
    if (rc != 0 || restart != 0) {
        fprintf(stderr, "FAIL: stopping/starting member 1 failed (%d, %d)\n", rc, restart);
        return 1;
    }
    return atomic_load(&failures) ? 1 : 0;
}
