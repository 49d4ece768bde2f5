/*
 * memcached_restart_test.c — the server goes away mid-run and comes back.
 *
 * Stops the memcached that scripts/services/memcached.sh started (by its pid file), checks that
 * get, set, delete and bulk get fail with UNAVAILABLE (retryable) and a message naming the
 * cause, restarts it with the same command line (SS_TEST_MEMCACHED_CMD), and checks that the
 * same store handle recovers (bounded wait) without being reopened.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include <statestore.h>

#include "unit/check.h"

static pid_t read_pid(const char *file)
{
    FILE *f = fopen(file, "r");
    if (!f) return -1;
    long pid = -1;
    if (fscanf(f, "%ld", &pid) != 1) pid = -1;
    fclose(f);
    return (pid_t)pid;
}

static int alive(pid_t pid)
{
    char p[64], buf[256];
    snprintf(p, sizeof p, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(p, "r");
    if (!f) return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    const char *rp = strrchr(buf, ')');
    return rp && rp[1] == ' ' && rp[2] != 'Z';
}

int main(void)
{
    const char *hosts = getenv("SS_TEST_MEMCACHED_HOSTS");
    const char *pidfile = getenv("SS_TEST_MEMCACHED_PIDFILE");
    const char *cmd = getenv("SS_TEST_MEMCACHED_CMD");
    if (!hosts || !pidfile || !cmd || !*hosts || !*pidfile || !*cmd) {
        printf("skip: SS_TEST_MEMCACHED_HOSTS/_PIDFILE/_CMD are not set (start the server with "
               "scripts/services/memcached.sh start DIR and source DIR/memcached.env)\n");
        return 77;
    }
    ss_pair props[] = {{"hosts", hosts}, {"timeout", "500ms"}};
    ss_config cfg = {.driver = "memcached", .properties = props, .property_count = 2};
    ss_store *s = NULL;
    ss_error err;
    CHECK_RC(ss_open(&s, &cfg, &err), SS_OK, &err);
    if (!s) return check_done("memcached_restart_test");

    char key[64];
    snprintf(key, sizeof key, "restart-%d", (int)getpid());
    ss_set_request set = {.key = key, .value = "before", .value_len = 6};
    CHECK_RC(ss_set(NULL, s, &set, &err), SS_OK, &err);

    pid_t pid = read_pid(pidfile);
    CHECK(pid > 0);
    if (pid <= 0) return check_done("memcached_restart_test");
    kill(pid, SIGTERM);
    for (int i = 0; i < 100 && alive(pid); i++) usleep(100 * 1000);
    CHECK(!alive(pid));

    /* Down: every operation fails as unavailable, retryable, with the cause in the message. */
    ss_get_request get = {.key = key};
    ss_value *v = NULL;
    for (int i = 0; i < 3; i++) {
        ss_code rc = ss_get(&v, s, &get, &err);
        CHECK(rc == SS_UNAVAILABLE || rc == SS_TIMEOUT);
        if (rc != SS_UNAVAILABLE) fprintf(stderr, "get while down: %s\n", err.message);
        CHECK(err.retryable);
        CHECK(v == NULL);
    }
    fprintf(stderr, "get while down: %s\n", err.message);
    CHECK_CONTAINS(err.message, hosts); /* names the server that failed */
    CHECK(ss_set(NULL, s, &set, &err) == SS_UNAVAILABLE);
    ss_delete_request del = {.key = key};
    CHECK(ss_delete(s, &del, &err) == SS_UNAVAILABLE);
    /* Bulk get: nothing could be attempted, so the call fails; every item says why. */
    ss_results res = {0};
    CHECK(ss_bulk_get(&res, s, &get, 1, NULL, &err) == SS_UNAVAILABLE);
    CHECK(res.count == 0 || (res.items[0].code == SS_UNAVAILABLE && res.items[0].error));
    ss_results_free(&res);
    CHECK(ss_ping(s, &err) == SS_UNAVAILABLE);

    /* Back up (empty: memcached keeps nothing across a restart). */
    CHECK(system(cmd) == 0);
    int recovered = 0;
    for (int i = 0; i < 100 && !recovered; i++) {
        usleep(100 * 1000);
        set.value = "after";
        set.value_len = 5;
        recovered = ss_set(NULL, s, &set, &err) == SS_OK;
    }
    CHECK(recovered);
    if (!recovered) fprintf(stderr, "no recovery: %s\n", err.message);
    v = NULL;
    CHECK_RC(ss_get(&v, s, &get, &err), SS_OK, &err);
    CHECK(v && strcmp(v->data, "after") == 0);
    ss_value_free(v);
    CHECK_RC(ss_ping(s, &err), SS_OK, &err);
    CHECK_RC(ss_delete(s, &del, &err), SS_OK, &err);
    ss_close(s);
    return check_done("memcached_restart_test");
}
