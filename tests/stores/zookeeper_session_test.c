/*
 * ZooKeeper connection loss and session expiry, on a private server this test starts with
 * scripts/services/zookeeper.sh in a temporary directory: (1) the server restarts with its data:
 * the client reconnects and resumes its session; (2) the server restarts empty: the session is
 * gone, the driver opens a new one and recreates its prefix node. Both times every operation
 * after the outage must succeed (retried by the library's retry policy while the server is down).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "statestore.h"

#ifndef SS_ZOOKEEPER_SCRIPT
#define SS_ZOOKEEPER_SCRIPT "scripts/services/zookeeper.sh"
#endif

static char dir[128];

static int script(const char *what)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "bash '%s' %s '%s' >'%s/script.log' 2>&1", SS_ZOOKEEPER_SCRIPT, what,
             dir, dir);
    return system(cmd);
}

static int roundtrip(ss_store *s, const char *key, const char *val)
{
    ss_error err;
    ss_set_request r = {.key = key, .value = val, .value_len = strlen(val)};
    r.options.retry = (ss_retry){.pattern = SS_LINEAR, .interval_ms = 250, .threshold = 40};
    if (ss_set(NULL, s, &r, &err) != SS_OK) {
        fprintf(stderr, "FAIL set %s: %s\n", key, err.message);
        return 1;
    }
    ss_value *v = NULL;
    ss_get_request g = {.key = key};
    ss_code c = ss_get(&v, s, &g, &err);
    int bad = c != SS_OK || !v || v->len != strlen(val) || memcmp(v->data, val, v->len) != 0;
    if (bad) fprintf(stderr, "FAIL get %s: %s\n", key, c ? err.message : "wrong value");
    ss_value_free(v);
    return bad;
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/ss-zk-session-XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    if (script("start") != 0) {
        fprintf(stderr, "FAIL: could not start a private zookeeper (see %s)\n", dir);
        return 1;
    }
    char envfile[256], servers[128] = "";
    snprintf(envfile, sizeof envfile, "%s/zookeeper.env", dir);
    FILE *f = fopen(envfile, "r");
    char line[256];
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "export SS_TEST_ZOOKEEPER_SERVERS=%127s", servers) == 1) break;
    if (f) fclose(f);

    int failures = 0;
    ss_pair props[] = {{"servers", servers}, {"sessionTimeout", "4s"}, {"keyPrefixPath", "/s/t"}};
    ss_config cfg = {.driver = "zookeeper", .properties = props, .property_count = 3};
    ss_store *s = NULL;
    ss_error err;
    if (ss_open(&s, &cfg, &err) != SS_OK) {
        fprintf(stderr, "FAIL open: %s\n", err.message);
        failures++;
    } else {
        failures += roundtrip(s, "before", "1");
        /* A server that does not come back is the environment's failure, not the driver's:
         * say so and stop, rather than retrying against nothing. */
        if (script("restart") != 0) {
            fprintf(stderr, "FAIL: the server did not restart (see %s/zookeeper/zk.log)\n", dir);
            failures++;
        } else {
            failures += roundtrip(s, "after-restart", "2");
            failures += roundtrip(s, "before", "3");
            if (script("wipe") != 0) {
                fprintf(stderr, "FAIL: the server did not restart empty (see %s/zookeeper)\n", dir);
                failures++;
            } else {
                failures += roundtrip(s, "after-expiry", "4");
                ss_code c = ss_ping(s, &err);
                if (c != SS_OK) {
                    fprintf(stderr, "FAIL ping after expiry: %s\n", err.message);
                    failures++;
                }
            }
        }
        ss_close(s);
    }
    script("stop");
    if (failures) {
        fprintf(stderr, "logs kept in %s\n", dir);
        return 1;
    }
    char rm[256];
    snprintf(rm, sizeof rm, "rm -rf '%s'", dir);
    if (system(rm) != 0) fprintf(stderr, "warning: could not remove %s\n", dir);
    printf("zookeeper reconnect and session expiry handled\n");
    return 0;
}
