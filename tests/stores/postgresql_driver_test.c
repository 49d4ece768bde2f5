/*
 * postgresql_driver_test — what the conformance suite cannot see for the SQL drivers: atomic
 * rollback of a transaction whose last condition fails, two processes sharing one table,
 * ETag-guarded increments from many threads through a small pool, the expired-row sweep,
 * refusal of an incompatible existing table, and (mode "restart") the server going away and
 * coming back mid-run.
 *
 * The same source is the MySQL/MariaDB test (mysql_driver_test.c defines SQLT_MYSQL). Each
 * run uses its own table and drops it at the end.
 *
 *   postgresql_driver_test [restart]
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <statestore.h>

#include "unit/check.h"

#ifdef SQLT_MYSQL
#include <mysql.h>
#define DRIVER     "mysql"
#define DSN_ENV    "SS_TEST_MYSQL_DSN"
#define SCRIPT_ENV "SS_TEST_MYSQL_SCRIPT"
#define DIR_ENV    "SS_TEST_MYSQL_DIR"
#define START_HINT "scripts/services/mariadb.sh start DIR"
#else
#include <libpq-fe.h>
#define DRIVER     "postgresql"
#define DSN_ENV    "SS_TEST_POSTGRES_DSN"
#define SCRIPT_ENV "SS_TEST_POSTGRES_SCRIPT"
#define DIR_ENV    "SS_TEST_POSTGRES_DIR"
#define START_HINT "scripts/services/postgresql.sh start DIR"
#endif

static const char *dsn;
static char table[64];

/* ------------------------------------------------------------------------------------------ */
/* Raw access to the database, to look behind the driver                                      */
/* ------------------------------------------------------------------------------------------ */

#ifdef SQLT_MYSQL
/* Enough of Go's DSN form for the test server: user[:pass]@tcp(host:port)/[db][?...] */
static MYSQL *raw_connect(void)
{
    char user[64] = "root", pass[64] = "", host[64] = "127.0.0.1";
    unsigned port = 3306;
    const char *at = strrchr(dsn, '@');
    if (at) {
        const char *colon = memchr(dsn, ':', (size_t)(at - dsn));
        size_t ul = (size_t)((colon ? colon : at) - dsn);
        snprintf(user, sizeof user, "%.*s", (int)ul, dsn);
        if (colon) snprintf(pass, sizeof pass, "%.*s", (int)(at - colon - 1), colon + 1);
    }
    const char *tcp = strstr(dsn, "tcp(");
    if (tcp) {
        const char *end = strchr(tcp, ')');
        const char *c = memchr(tcp + 4, ':', (size_t)(end - tcp - 4));
        if (c) {
            snprintf(host, sizeof host, "%.*s", (int)(c - tcp - 4), tcp + 4);
            port = (unsigned)atoi(c + 1);
        }
    }
    MYSQL *m = mysql_init(NULL);
    if (!mysql_real_connect(m, host, user, pass, NULL, port, NULL, 0)) {
        fprintf(stderr, "raw connect: %s\n", mysql_error(m));
        mysql_close(m);
        return NULL;
    }
    mysql_query(m, "CREATE DATABASE IF NOT EXISTS dapr_state_store");
    mysql_select_db(m, "dapr_state_store");
    return m;
}

/* Runs sql; returns the first column of the first row as a number, or -1 on error. */
static long raw_query(const char *sql)
{
    MYSQL *m = raw_connect();
    if (!m) return -1;
    long v = 0;
    if (mysql_query(m, sql) != 0) {
        fprintf(stderr, "raw query %s: %s\n", sql, mysql_error(m));
        v = -1;
    } else {
        MYSQL_RES *r = mysql_store_result(m);
        if (r) {
            MYSQL_ROW row = mysql_fetch_row(r);
            if (row && row[0]) v = atol(row[0]);
            mysql_free_result(r);
        }
    }
    mysql_close(m);
    return v;
}

#define BAD_TABLE_SQL                                                                              \
    "CREATE TABLE sqlt_bad_%d (id VARCHAR(255) PRIMARY KEY, data TEXT); "                          \
    "INSERT INTO sqlt_bad_%d VALUES ('k', 'keep me')"
#else
static long raw_query(const char *sql)
{
    PGconn *pg = PQconnectdb(dsn);
    if (PQstatus(pg) != CONNECTION_OK) {
        fprintf(stderr, "raw connect: %s", PQerrorMessage(pg));
        PQfinish(pg);
        return -1;
    }
    PGresult *r = PQexec(pg, sql);
    long v = 0;
    if (PQresultStatus(r) == PGRES_TUPLES_OK) {
        if (PQntuples(r) > 0) v = atol(PQgetvalue(r, 0, 0));
    } else if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        fprintf(stderr, "raw query %s: %s", sql, PQresultErrorMessage(r));
        v = -1;
    }
    PQclear(r);
    PQfinish(pg);
    return v;
}

#define BAD_TABLE_SQL                                                                              \
    "CREATE TABLE sqlt_bad_%d (key text PRIMARY KEY, value jsonb, isbinary boolean, etag "         \
    "integer); INSERT INTO sqlt_bad_%d VALUES ('k', '\"keep me\"', false, 1)"
#endif

/* Splits "a; b" for MySQL, which runs one statement per query without multi-statements. */
static long raw_exec_all(const char *sql)
{
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", sql);
#ifdef SQLT_MYSQL
    long rc = 0;
    for (char *save = NULL, *p = strtok_r(buf, ";", &save); p; p = strtok_r(NULL, ";", &save))
        if (raw_query(p) < 0) rc = -1;
    return rc;
#else
    return raw_query(buf);
#endif
}

/* ------------------------------------------------------------------------------------------ */
/* Store helpers                                                                              */
/* ------------------------------------------------------------------------------------------ */

static ss_store *open_store(const char *tbl, const char *cleanup, const char *maxconns,
                            ss_code want, ss_error *err)
{
    ss_pair props[4];
    size_t n = 0;
    props[n++] = (ss_pair){"connectionString", dsn};
    props[n++] = (ss_pair){"tableName", tbl};
#ifdef SQLT_MYSQL
    if (cleanup) props[n++] = (ss_pair){"cleanupIntervalInSeconds", cleanup};
    if (maxconns) props[n++] = (ss_pair){"maxOpenConns", maxconns};
#else
    if (cleanup) props[n++] = (ss_pair){"cleanupInterval", cleanup};
    if (maxconns) props[n++] = (ss_pair){"maxConns", maxconns};
#endif
    ss_config cfg = {.driver = DRIVER, .name = "sqlt", .properties = props, .property_count = n};
    ss_store *s = NULL;
    ss_error e;
    if (!err) err = &e;
    CHECK_RC(ss_open(&s, &cfg, err), want, err);
    return s;
}

static ss_code put(ss_store *s, const char *key, const char *val, const char *etag, char **etag_out)
{
    ss_set_request r = {.key = key, .value = val, .value_len = strlen(val), .etag = etag};
    ss_error e;
    ss_code rc = ss_set(etag_out, s, &r, &e);
    if (rc != SS_OK && rc != SS_ETAG_MISMATCH) fprintf(stderr, "set %s: %s\n", key, e.message);
    return rc;
}

/* The value of key as a string (caller frees) and its ETag into etag (37+ bytes), or NULL. */
static char *fetch(ss_store *s, const char *key, char *etag, size_t etag_len)
{
    ss_get_request r = {.key = key};
    ss_value *v = NULL;
    ss_error e;
    if (ss_get(&v, s, &r, &e) != SS_OK) {
        fprintf(stderr, "get %s: %s\n", key, e.message);
        return NULL;
    }
    if (!v) return NULL;
    char *out = strdup(v->data);
    if (etag) snprintf(etag, etag_len, "%s", v->etag ? v->etag : "");
    ss_value_free(v);
    return out;
}

static bool value_is(ss_store *s, const char *key, const char *want)
{
    char *got = fetch(s, key, NULL, 0);
    bool ok = want ? (got && strcmp(got, want) == 0) : got == NULL;
    if (!ok)
        fprintf(stderr, "key %s: got %s, want %s\n", key, got ? got : "(missing)",
                want ? want : "(missing)");
    free(got);
    return ok;
}

/* ------------------------------------------------------------------------------------------ */
/* Tests                                                                                      */
/* ------------------------------------------------------------------------------------------ */

static void test_basics(ss_store *s)
{
    char *e1 = NULL, *e2 = NULL;
    ss_error err;
    CHECK_RC(put(s, "b/1", "one", NULL, &e1), SS_OK, &err);
    CHECK(e1 && strlen(e1) == 36);
    CHECK_RC(put(s, "b/1", "two", e1, &e2), SS_OK, &err);
    CHECK(e2 && e1 && strcmp(e1, e2) != 0);
    CHECK_RC(put(s, "b/1", "three", e1, NULL), SS_ETAG_MISMATCH, &err);
    CHECK(value_is(s, "b/1", "two"));

    /* An ETag that is not a UUID can never match: invalid, not mismatch. */
    ss_set_request bad = {.key = "b/1", .value = "x", .value_len = 1, .etag = "not-a-uuid"};
    CHECK_RC(ss_set(NULL, s, &bad, &err), SS_ETAG_INVALID, &err);
    ss_delete_request badd = {.key = "b/1", .etag = "12345"};
    CHECK_RC(ss_delete(s, &badd, &err), SS_ETAG_INVALID, &err);

    /* first-write */
    ss_set_request fw = {
        .key = "b/fw", .value = "a", .value_len = 1, .options = {.concurrency = SS_FIRST_WRITE}};
    ss_delete_request dfw = {.key = "b/fw"};
    CHECK_RC(ss_delete(s, &dfw, &err), SS_OK, &err);
    CHECK_RC(ss_set(NULL, s, &fw, &err), SS_OK, &err);
    CHECK_RC(ss_set(NULL, s, &fw, &err), SS_ETAG_MISMATCH, &err);

    /* byte-exact values, including NUL bytes and invalid UTF-8 */
    static const char bin[] = {'\0', '\xff', '\x01', '{', '"', '\0', '\xc3'};
    ss_set_request br = {.key = "b/bin", .value = bin, .value_len = sizeof bin};
    CHECK_RC(ss_set(NULL, s, &br, &err), SS_OK, &err);
    ss_get_request gr = {.key = "b/bin"};
    ss_value *v = NULL;
    CHECK_RC(ss_get(&v, s, &gr, &err), SS_OK, &err);
    CHECK(v && v->len == sizeof bin && memcmp(v->data, bin, sizeof bin) == 0);
    ss_value_free(v);

    /* keys with quoting characters */
    const char *odd = "b/it's \"q\" \\ % _ ||";
    CHECK_RC(put(s, odd, "odd", NULL, NULL), SS_OK, &err);
    CHECK(value_is(s, odd, "odd"));

    /* delete with a stale ETag changes nothing; with the right one it deletes */
    ss_delete_request d1 = {.key = "b/1", .etag = e1};
    CHECK_RC(ss_delete(s, &d1, &err), SS_ETAG_MISMATCH, &err);
    d1.etag = e2;
    CHECK_RC(ss_delete(s, &d1, &err), SS_OK, &err);
    CHECK(value_is(s, "b/1", NULL));
    ss_free(e1);
    ss_free(e2);

    /* TTL: visible with ttlExpireTime, then gone without waiting for a sweep */
    ss_pair ttl[] = {{"ttlInSeconds", "2"}};
    ss_set_request tr = {
        .key = "b/ttl", .value = "t", .value_len = 1, .metadata = ttl, .metadata_count = 1};
    CHECK_RC(ss_set(NULL, s, &tr, &err), SS_OK, &err);
    v = NULL;
    ss_get_request tg = {.key = "b/ttl"};
    CHECK_RC(ss_get(&v, s, &tg, &err), SS_OK, &err);
    CHECK(v && ss_value_meta(v, SS_META_TTL_EXPIRE) != NULL);
    ss_value_free(v);
    bool gone = false;
    for (int i = 0; i < 80 && !gone; i++) {
        char *got = fetch(s, "b/ttl", NULL, 0);
        gone = got == NULL;
        free(got);
        if (!gone) usleep(100 * 1000);
    }
    CHECK(gone);
    /* the expired row may still be there: first-write must treat it as absent */
    tr.options.concurrency = SS_FIRST_WRITE;
    tr.metadata_count = 0;
    CHECK_RC(ss_set(NULL, s, &tr, &err), SS_OK, &err);
    CHECK(value_is(s, "b/ttl", "t"));
}

/* A transaction whose last condition fails leaves every row as it was. */
static void test_tx_rollback(ss_store *s)
{
    char *ea = NULL, *eb = NULL, *ec = NULL;
    ss_error err;
    CHECK_RC(put(s, "tx/a", "a0", NULL, &ea), SS_OK, &err);
    CHECK_RC(put(s, "tx/b", "b0", NULL, &eb), SS_OK, &err);
    CHECK_RC(put(s, "tx/c", "c0", NULL, &ec), SS_OK, &err);
    ss_delete_request dd = {.key = "tx/d"};
    ss_delete(s, &dd, &err);

    const char *stale = "00000000-0000-4000-8000-000000000000";
    ss_operation ops[5] = {
        {.kind = SS_OP_UPSERT, .set = {.key = "tx/a", .value = "a1", .value_len = 2, .etag = ea}},
        {.kind = SS_OP_DELETE, .del = {.key = "tx/b", .etag = eb}},
        {.kind = SS_OP_UPSERT, .set = {.key = "tx/d", .value = "d1", .value_len = 2}},
        {.kind = SS_OP_UPSERT, .set = {.key = "tx/a", .value = "a2", .value_len = 2}},
        {.kind = SS_OP_UPSERT,
         .set = {.key = "tx/c", .value = "c1", .value_len = 2, .etag = stale}},
    };
    ss_transaction tx = {.ops = ops, .count = 5};
    CHECK_RC(ss_transact(s, &tx, &err), SS_ETAG_MISMATCH, &err);
    /* The core names the op and the key once; the driver says only what the database found. */
    CHECK_CONTAINS(err.message, "): transact: operation 4: set \"tx/c\": etag mismatch (missing, "
                                "expired or changed)");
    CHECK(strstr(err.message, "key \"") == NULL);
    CHECK(value_is(s, "tx/a", "a0"));
    CHECK(value_is(s, "tx/b", "b0"));
    CHECK(value_is(s, "tx/c", "c0"));
    CHECK(value_is(s, "tx/d", NULL));
    char etag[64];
    char *v = fetch(s, "tx/a", etag, sizeof etag);
    CHECK(v && ea && strcmp(etag, ea) == 0);
    free(v);

    /* first-write failing last rolls back too */
    ops[4] = (ss_operation){.kind = SS_OP_UPSERT,
                            .set = {.key = "tx/c",
                                    .value = "c1",
                                    .value_len = 2,
                                    .options = {.concurrency = SS_FIRST_WRITE}}};
    CHECK_RC(ss_transact(s, &tx, &err), SS_ETAG_MISMATCH, &err);
    CHECK(value_is(s, "tx/a", "a0"));
    CHECK(value_is(s, "tx/d", NULL));

    /* an unparseable ETag anywhere fails before anything runs */
    ops[4] = (ss_operation){.kind = SS_OP_DELETE, .del = {.key = "tx/c", .etag = "nope"}};
    CHECK_RC(ss_transact(s, &tx, &err), SS_ETAG_INVALID, &err);
    CHECK(value_is(s, "tx/a", "a0"));

    /* and with every condition right, all of it applies, in order */
    ops[4] = (ss_operation){.kind = SS_OP_UPSERT,
                            .set = {.key = "tx/c", .value = "c1", .value_len = 2, .etag = ec}};
    CHECK_RC(ss_transact(s, &tx, &err), SS_OK, &err);
    CHECK(value_is(s, "tx/a", "a2"));
    CHECK(value_is(s, "tx/b", NULL));
    CHECK(value_is(s, "tx/c", "c1"));
    CHECK(value_is(s, "tx/d", "d1"));
    ss_free(ea);
    ss_free(eb);
    ss_free(ec);
}

static void test_bulk(ss_store *s)
{
    char *e1 = NULL;
    ss_error err;
    CHECK_RC(put(s, "bk/1", "v1", NULL, &e1), SS_OK, &err);
    const char *stale = "00000000-0000-4000-8000-000000000000";
    ss_set_request sets[4] = {
        {.key = "bk/1", .value = "v1b", .value_len = 3, .etag = e1},
        {.key = "bk/2", .value = "v2", .value_len = 2, .etag = stale},
        {.key = "bk/3", .value = "v3", .value_len = 2},
        {.key = "bk/4", .value = "v4", .value_len = 2, .etag = "bad"},
    };
    ss_results res = {0};
    ss_code rc = ss_bulk_set(&res, s, sets, 4, NULL, &err);
    CHECK(rc == SS_ETAG_MISMATCH || rc == SS_ETAG_INVALID);
    CHECK(res.count == 4);
    if (res.count == 4) {
        CHECK(res.items[0].code == SS_OK && res.items[0].etag);
        CHECK(res.items[1].code == SS_ETAG_MISMATCH);
        CHECK(res.items[2].code == SS_OK && res.items[2].etag);
        CHECK(res.items[3].code == SS_ETAG_INVALID);
    }
    ss_results_free(&res);
    CHECK(value_is(s, "bk/1", "v1b"));
    CHECK(value_is(s, "bk/2", NULL));
    CHECK(value_is(s, "bk/3", "v3"));

    ss_get_request gets[4] = {
        {.key = "bk/3"}, {.key = "bk/missing"}, {.key = "bk/1"}, {.key = "bk/3"}};
    CHECK_RC(ss_bulk_get(&res, s, gets, 4, NULL, &err), SS_OK, &err);
    CHECK(res.count == 4);
    if (res.count == 4) {
        CHECK(res.items[0].value && strcmp(res.items[0].value->data, "v3") == 0);
        CHECK(res.items[1].code == SS_OK && res.items[1].value == NULL);
        CHECK(res.items[2].value && strcmp(res.items[2].value->data, "v1b") == 0);
        CHECK(res.items[3].value && strcmp(res.items[3].value->data, "v3") == 0);
        CHECK(res.items[0].value && res.items[0].value->etag);
    }
    ss_results_free(&res);

    ss_delete_request dels[2] = {{.key = "bk/1"}, {.key = "bk/3", .etag = stale}};
    CHECK_RC(ss_bulk_delete(&res, s, dels, 2, NULL, &err), SS_ETAG_MISMATCH, &err);
    ss_results_free(&res);
    CHECK(value_is(s, "bk/1", NULL));
    CHECK(value_is(s, "bk/3", "v3"));
    ss_free(e1);
}

/* Many items: several pipeline chunks / IN-list chunks, and a long transaction. */
#define MANY 700

static void test_many(ss_store *s)
{
    static char keys[MANY][24];
    static ss_set_request sets[MANY];
    static ss_get_request gets[MANY + 1];
    static ss_operation ops[MANY];
    for (int i = 0; i < MANY; i++) {
        snprintf(keys[i], sizeof keys[i], "many/%d", i);
        sets[i] = (ss_set_request){.key = keys[i], .value = keys[i], .value_len = strlen(keys[i])};
        gets[i] = (ss_get_request){.key = keys[i]};
        ops[i] = (ss_operation){.kind = SS_OP_DELETE, .del = {.key = keys[i]}};
    }
    gets[MANY] = (ss_get_request){.key = "many/missing"};
    ss_results res = {0};
    ss_error err;
    CHECK_RC(ss_bulk_set(&res, s, sets, MANY, NULL, &err), SS_OK, &err);
    ss_results_free(&res);
    CHECK_RC(ss_bulk_get(&res, s, gets, MANY + 1, NULL, &err), SS_OK, &err);
    int good = 0;
    for (size_t i = 0; i < res.count && i < MANY; i++)
        if (res.items[i].value && strcmp(res.items[i].value->data, keys[i]) == 0) good++;
    CHECK(res.count == MANY + 1 && good == MANY);
    CHECK(res.count == MANY + 1 && res.items[MANY].value == NULL);
    ss_results_free(&res);
    /* a long transaction whose very last op fails changes nothing */
    ops[MANY - 1] = (ss_operation){
        .kind = SS_OP_DELETE,
        .del = {.key = keys[MANY - 1], .etag = "00000000-0000-4000-8000-000000000000"}};
    ss_transaction tx = {.ops = ops, .count = MANY};
    CHECK_RC(ss_transact(s, &tx, &err), SS_ETAG_MISMATCH, &err);
    CHECK(value_is(s, keys[0], keys[0]));
    ops[MANY - 1] = (ss_operation){.kind = SS_OP_DELETE, .del = {.key = keys[MANY - 1]}};
    CHECK_RC(ss_transact(s, &tx, &err), SS_OK, &err);
    CHECK(value_is(s, keys[0], NULL));
    CHECK(value_is(s, keys[MANY - 1], NULL));
}

/* Two processes on one table see each other's writes and ETags. */
static void test_two_processes(void)
{
    int to_child[2], to_parent[2];
    if (pipe(to_child) != 0 || pipe(to_parent) != 0) {
        CHECK(!"pipe");
        return;
    }
    pid_t pid = fork();
    if (pid == 0) {
        close(to_child[1]);
        close(to_parent[0]);
        ss_store *s = open_store(table, NULL, NULL, SS_OK, NULL);
        char etag[64] = "", buf[64] = "";
        int ok = 1;
        ssize_t n = read(to_child[0], buf, sizeof buf - 1);
        if (n <= 0 || !s) ok = 0;
        buf[n > 0 ? n : 0] = '\0';
        char *v = s ? fetch(s, "pp/k", etag, sizeof etag) : NULL;
        if (!v || strcmp(v, "from-parent") != 0 || strcmp(etag, buf) != 0) {
            fprintf(stderr, "child: got %s etag %s, want from-parent etag %s\n",
                    v ? v : "(missing)", etag, buf);
            ok = 0;
        }
        free(v);
        char *ne = NULL;
        if (s && put(s, "pp/k", "from-child", etag, &ne) != SS_OK) ok = 0;
        char msg[64];
        snprintf(msg, sizeof msg, "%s", ne ? ne : "none");
        if (write(to_parent[1], msg, strlen(msg)) < 0) ok = 0;
        ss_free(ne);
        ss_close(s);
        _exit(ok && check_failures == 0 ? 0 : 1);
    }
    close(to_child[0]);
    close(to_parent[1]);
    ss_store *s = open_store(table, NULL, NULL, SS_OK, NULL);
    char *e = NULL;
    if (s) put(s, "pp/k", "from-parent", NULL, &e);
    if (write(to_child[1], e ? e : "", e ? strlen(e) : 0) < 0) CHECK(!"write");
    close(to_child[1]);
    char buf[64] = "";
    ssize_t n = read(to_parent[0], buf, sizeof buf - 1);
    buf[n > 0 ? n : 0] = '\0';
    close(to_parent[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    char etag[64] = "";
    char *v = s ? fetch(s, "pp/k", etag, sizeof etag) : NULL;
    CHECK(v && strcmp(v, "from-child") == 0);
    CHECK_STR(etag, buf);
    /* the parent's old ETag is now stale */
    CHECK(s && put(s, "pp/k", "again", e, NULL) == SS_ETAG_MISMATCH);
    free(v);
    ss_free(e);
    ss_close(s);
}

/* ETag-guarded read-modify-write from many threads through a pool smaller than the thread
 * count: no increment may be lost, and no call may fail other than by a mismatch. */
#define INC_THREADS 6
#define INC_EACH    40

typedef struct inc_arg {
    ss_store *s;
    int failures;
} inc_arg;

static void *inc_main(void *p)
{
    inc_arg *a = p;
    for (int i = 0; i < INC_EACH; i++) {
        for (int attempt = 0; attempt < 10000; attempt++) {
            char etag[64] = "";
            char *v = fetch(a->s, "inc/counter", etag, sizeof etag);
            if (!v) {
                a->failures++;
                break;
            }
            char next[32];
            snprintf(next, sizeof next, "%ld", atol(v) + 1);
            free(v);
            ss_code rc = put(a->s, "inc/counter", next, etag, NULL);
            if (rc == SS_OK) break;
            if (rc != SS_ETAG_MISMATCH) {
                a->failures++;
                break;
            }
        }
    }
    return NULL;
}

static void test_threads(void)
{
    ss_store *s = open_store(table, NULL, "2", SS_OK, NULL);
    if (!s) return;
    CHECK(put(s, "inc/counter", "0", NULL, NULL) == SS_OK);
    pthread_t th[INC_THREADS];
    inc_arg args[INC_THREADS];
    for (int i = 0; i < INC_THREADS; i++) {
        args[i] = (inc_arg){s, 0};
        pthread_create(&th[i], NULL, inc_main, &args[i]);
    }
    int failures = 0;
    for (int i = 0; i < INC_THREADS; i++) {
        pthread_join(th[i], NULL);
        failures += args[i].failures;
    }
    CHECK(failures == 0);
    char want[32];
    snprintf(want, sizeof want, "%d", INC_THREADS * INC_EACH);
    CHECK(value_is(s, "inc/counter", want));
    ss_close(s);
}

/* The periodic sweep physically removes expired rows. */
static void test_sweep(void)
{
    char tbl[80], sql[200];
    snprintf(tbl, sizeof tbl, "%s_gc", table);
    ss_store *s = open_store(tbl, "1", NULL, SS_OK, NULL);
    if (!s) return;
    ss_pair ttl[] = {{"ttlInSeconds", "1"}};
    ss_set_request r = {
        .key = "gc/k", .value = "x", .value_len = 1, .metadata = ttl, .metadata_count = 1};
    ss_error err;
    CHECK_RC(ss_set(NULL, s, &r, &err), SS_OK, &err);
    ss_set_request keep = {.key = "gc/keep", .value = "y", .value_len = 1};
    CHECK_RC(ss_set(NULL, s, &keep, &err), SS_OK, &err);
    snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM %s", tbl);
    long rows = raw_query(sql);
    CHECK(rows == 2);
    for (int i = 0; i < 150 && rows != 1; i++) {
        usleep(100 * 1000);
        rows = raw_query(sql);
    }
    CHECK(rows == 1);
    ss_close(s);
    snprintf(sql, sizeof sql, "DROP TABLE %s", tbl);
    raw_query(sql);
}

/* An existing table with another layout is refused, and left alone. */
static void test_incompatible_table(void)
{
    char sql[512], tbl[64];
    snprintf(tbl, sizeof tbl, "sqlt_bad_%d", (int)getpid());
    snprintf(sql, sizeof sql, BAD_TABLE_SQL, (int)getpid(), (int)getpid());
    CHECK(raw_exec_all(sql) == 0);
    ss_error err;
    ss_store *s = open_store(tbl, NULL, NULL, SS_INVALID, &err);
    CHECK_CONTAINS(err.message, tbl);
    ss_close(s);
    snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM %s", tbl);
    CHECK(raw_query(sql) == 1);
    snprintf(sql, sizeof sql, "DROP TABLE %s", tbl);
    raw_query(sql);

    /* bad property values are named */
    s = open_store("bad-name; drop", NULL, NULL, SS_INVALID, &err);
    CHECK_CONTAINS(err.message, "tableName");
    ss_close(s);
}

/* A table created by Dapr itself (its exact DDL, rows as Dapr writes them) is used as it is. */
static void test_dapr_table(void)
{
    char tbl[64], sql[1024];
    int pid = (int)getpid();
#ifdef SQLT_MYSQL
    snprintf(tbl, sizeof tbl, "sqlt_dapr_%d", pid);
    snprintf(sql, sizeof sql,
             "CREATE TABLE %s (id VARCHAR(255) NOT NULL PRIMARY KEY, value JSON NOT NULL, "
             "isbinary BOOLEAN NOT NULL, insertDate TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, "
             "updateDate TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE "
             "CURRENT_TIMESTAMP, eTag VARCHAR(36) NOT NULL, expiredate TIMESTAMP NULL, INDEX "
             "expiredate_idx(expiredate))",
             tbl);
    CHECK(raw_query(sql) == 0);
    /* Dapr stores binary values as a JSON string of base64 with isbinary = 1 */
    snprintf(sql, sizeof sql,
             "INSERT INTO %s (id, value, isbinary, eTag) VALUES ('dk', '\"AAEC\"', 1, "
             "'11111111-1111-4111-8111-111111111111'), ('dj', '{\"a\":1}', 0, "
             "'22222222-2222-4222-8222-222222222222')",
             tbl);
    CHECK(raw_query(sql) == 0);
#else
    snprintf(tbl, sizeof tbl, "sqlt%ddapr_state", pid);
    snprintf(sql, sizeof sql,
             "CREATE TABLE IF NOT EXISTS dapr_metadata (key text NOT NULL PRIMARY KEY, value "
             "text NOT NULL); CREATE TABLE %s (key text NOT NULL PRIMARY KEY, value bytea NOT "
             "NULL, etag uuid NOT NULL DEFAULT gen_random_uuid(), created_at timestamp with time "
             "zone NOT NULL DEFAULT now(), updated_at timestamp with time zone, expires_at "
             "timestamp with time zone); CREATE INDEX ON %s (expires_at); INSERT INTO "
             "dapr_metadata VALUES ('migrations-state-v2-sqlt%ddapr_', '1'); INSERT INTO %s "
             "(key, value, etag) VALUES ('dk', '\\x000102', "
             "'11111111-1111-4111-8111-111111111111'), ('dj', '{\"a\":1}', "
             "'22222222-2222-4222-8222-222222222222')",
             tbl, tbl, pid, tbl);
    CHECK(raw_query(sql) == 0);
#endif
    ss_error err;
    ss_store *s = open_store(tbl, NULL, NULL, SS_OK, &err);
    if (s) {
        ss_get_request g = {.key = "dk"};
        ss_value *v = NULL;
        CHECK_RC(ss_get(&v, s, &g, &err), SS_OK, &err);
        CHECK(v && v->len == 3 && memcmp(v->data, "\0\1\2", 3) == 0);
        CHECK(v && v->etag && strcmp(v->etag, "11111111-1111-4111-8111-111111111111") == 0);
        ss_value_free(v);
        char etag[64];
        char *got = fetch(s, "dj", etag, sizeof etag);
        CHECK(got && strcmp(got, "{\"a\":1}") == 0);
        free(got);
        CHECK(put(s, "dj", "{\"b\":2}", etag, NULL) == SS_OK);
        CHECK(value_is(s, "dj", "{\"b\":2}"));
        ss_pair ttl[] = {{"ttlInSeconds", "3600"}};
        ss_set_request tr = {
            .key = "dt", .value = "[1]", .value_len = 3, .metadata = ttl, .metadata_count = 1};
        CHECK_RC(ss_set(NULL, s, &tr, &err), SS_OK, &err);
        v = NULL;
        g.key = "dt";
        CHECK_RC(ss_get(&v, s, &g, &err), SS_OK, &err);
        CHECK(v && ss_value_meta(v, SS_META_TTL_EXPIRE) != NULL);
        ss_value_free(v);
#ifdef SQLT_MYSQL
        /* MariaDB's JSON column refuses what is not JSON: a clear INVALID, not a crash */
        ss_set_request nj = {.key = "dn", .value = "not json", .value_len = 8};
        CHECK_RC(ss_set(NULL, s, &nj, &err), SS_INVALID, &err);
        /* in a bulk set the bad item fails alone; the good ones are written */
        ss_set_request bs[3] = {{.key = "b1", .value = "[1]", .value_len = 3},
                                {.key = "b2", .value = "nope", .value_len = 4},
                                {.key = "b3", .value = "{}", .value_len = 2}};
        ss_results res = {0};
        CHECK_RC(ss_bulk_set(&res, s, bs, 3, NULL, &err), SS_INVALID, &err);
        CHECK(res.count == 3 && res.items[0].code == SS_OK && res.items[1].code == SS_INVALID &&
              res.items[2].code == SS_OK && res.items[2].etag != NULL);
        ss_results_free(&res);
        CHECK(value_is(s, "b1", "[1]"));
        CHECK(value_is(s, "b2", NULL));
        CHECK(value_is(s, "b3", "{}"));
        /* in a transaction it fails everything, naming the key */
        ss_operation tops[2] = {
            {.kind = SS_OP_UPSERT, .set = {.key = "t1", .value = "[1]", .value_len = 3}},
            {.kind = SS_OP_UPSERT, .set = {.key = "t2", .value = "bad", .value_len = 3}}};
        ss_transaction ttx = {.ops = tops, .count = 2};
        CHECK_RC(ss_transact(s, &ttx, &err), SS_INVALID, &err);
        CHECK_CONTAINS(err.message, "\"t2\"");
        CHECK(value_is(s, "t1", NULL));
#endif
        ss_close(s);
    }
#ifndef SQLT_MYSQL
    snprintf(sql, sizeof sql,
             "SELECT COUNT(*) FROM dapr_metadata WHERE key = 'migrations-state-v2-sqlt%ddapr_' "
             "AND value = '1'",
             pid);
    CHECK(raw_query(sql) == 1);
#endif
    snprintf(sql, sizeof sql, "DROP TABLE %s", tbl);
    raw_query(sql);
}

static int run_script(const char *verb)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "bash '%s' %s '%s' >/dev/null 2>&1", getenv(SCRIPT_ENV), verb,
             getenv(DIR_ENV));
    return system(cmd);
}

/* The server goes away mid-run: clear, retryable UNAVAILABLE errors; then it comes back and
 * the same handle works again with the data intact. */
static void test_restart(void)
{
    if (!getenv(SCRIPT_ENV) || !getenv(DIR_ENV)) {
        printf("skip: %s/%s not set (start the server with " START_HINT ")\n", SCRIPT_ENV, DIR_ENV);
        exit(77);
    }
    ss_store *s = open_store(table, NULL, "3", SS_OK, NULL);
    if (!s) return;
    CHECK(put(s, "rs/k", "before", NULL, NULL) == SS_OK);
    CHECK(run_script("pause") == 0);

    ss_error err;
    ss_value *v = NULL;
    ss_get_request g = {.key = "rs/k"};
    CHECK_RC(ss_get(&v, s, &g, &err), SS_UNAVAILABLE, &err);
    CHECK(err.retryable);
    printf("while down, get: %s\n", err.message);
    ss_set_request w = {.key = "rs/k", .value = "during", .value_len = 6};
    CHECK_RC(ss_set(NULL, s, &w, &err), SS_UNAVAILABLE, &err);
    ss_operation op = {.kind = SS_OP_UPSERT, .set = w};
    ss_transaction tx = {.ops = &op, .count = 1};
    CHECK_RC(ss_transact(s, &tx, &err), SS_UNAVAILABLE, &err);
    CHECK_RC(ss_ping(s, &err), SS_UNAVAILABLE, &err);

    CHECK(run_script("resume") == 0);
    ss_code rc = SS_UNAVAILABLE;
    for (int i = 0; i < 100 && rc != SS_OK; i++) {
        rc = ss_get(&v, s, &g, &err);
        if (rc != SS_OK) usleep(100 * 1000);
    }
    CHECK_RC(rc, SS_OK, &err);
    CHECK(v && strcmp(v->data, "before") == 0);
    ss_value_free(v);
    CHECK(put(s, "rs/k", "after", NULL, NULL) == SS_OK);
    CHECK(value_is(s, "rs/k", "after"));
    CHECK_RC(ss_transact(s, &tx, &err), SS_OK, &err);
    CHECK(value_is(s, "rs/k", "during"));
    ss_close(s);
}

int main(int argc, char **argv)
{
    dsn = getenv(DSN_ENV);
    if (!dsn || !*dsn) {
        printf("skip: %s is not set (start the server with " START_HINT " and source DIR/*.env)\n",
               DSN_ENV);
        return 77;
    }
    snprintf(table, sizeof table, "sqlt_%d_state", (int)getpid());
    setvbuf(stdout, NULL, _IOLBF, 0);

    if (argc > 1 && strcmp(argv[1], "restart") == 0) {
        test_restart();
    } else {
        ss_store *s = open_store(table, NULL, NULL, SS_OK, NULL);
        if (s) {
            test_basics(s);
            test_tx_rollback(s);
            test_bulk(s);
            test_many(s);
        }
        ss_close(s);
        test_two_processes();
        test_threads();
        test_sweep();
        test_incompatible_table();
        test_dapr_table();
    }
    char sql[128];
    snprintf(sql, sizeof sql, "DROP TABLE %s", table);
    raw_query(sql);
    return check_done(argc > 1 ? DRIVER "_driver_test restart" : DRIVER "_driver_test");
}
