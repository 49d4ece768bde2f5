/*
 * fuzz_requests.c — the core's validation of everything a caller hands over, on real stores:
 *   - properties through ss_open (memory; sqlite on ":memory:" with the other properties
 *     fuzzed: durations, booleans, integers, table names),
 *   - option strings (concurrency, consistency, retry pattern), ETags, metadata names and
 *     values (ttlInSeconds), keys and values through get/set/delete, bulk and transactions.
 * A request the core accepts must behave (a set that succeeded reads back byte-exact, unless a
 * TTL or first-write applied), a refused one must carry a message.
 *
 * Input: SELECTOR \n KEY \n ETAG \n CONCURRENCY \n CONSISTENCY \n PATTERN \n META-NAME \n
 *        META-VALUE \n PROP-NAME \n PROP-VALUE \n VALUE...
 */
#include "fuzz_input.h"

#include <statestore.h>

#include <stdbool.h>

#include <stdio.h>
#include <strings.h>

static void quiet_log(void *ctx, ss_log_level level, const char *message)
{
    (void)ctx;
    (void)level;
    if (!message) abort();
}

static void check_err(ss_code rc, const ss_error *err)
{
    if (rc != SS_OK && !err->message[0]) abort();
    if ((unsigned)rc > SS_BACKEND) abort();
}

/* Opens memory or sqlite with one fuzzed property; NULL when it is refused. */
static ss_store *open_store(unsigned sel, const char *pname, const char *pvalue)
{
    ss_pair props[2];
    size_t n = 0;
    const char *driver = "memory";
    if (sel & 1) {
        driver = "sqlite";
        props[n++] = (ss_pair){"connectionString", ":memory:"};
        /* A fuzzed connectionString could create files anywhere: never let it through. */
        if (strncasecmp(pname, "connectionString", 16) == 0) pname = "";
    }
    if (*pname) props[n++] = (ss_pair){pname, pvalue};
    ss_config cfg = {
        .driver = driver, .name = "fz", .properties = props, .property_count = n, .log = quiet_log};
    ss_store *s = NULL;
    ss_error err;
    memset(&err, 0, sizeof err);
    ss_code rc = ss_open(&s, &cfg, &err);
    check_err(rc, &err);
    if (rc != SS_OK && s) abort();
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_fields ff;
    if (!fuzz_split(&ff, data, size, 11)) {
        fuzz_free(&ff);
        return 0;
    }
    unsigned sel = ff.len[0] ? (unsigned char)ff.f[0][0] : 0;
    ss_store *s = open_store(sel, ff.f[8], ff.f[9]);
    if (!s) {
        fuzz_free(&ff);
        return 0;
    }
    const char *key = fuzz_opt(ff.f[1]);
    ss_pair md[2] = {{ff.f[6], ff.f[7]}, {"contentType", "application/json"}};
    size_t nmd = (sel & 2) ? 2 : (ff.len[6] ? 1 : 0);
    ss_write_options o = {.concurrency = fuzz_opt(ff.f[3]),
                          .consistency = fuzz_opt(ff.f[4]),
                          .retry = {fuzz_opt(ff.f[5]), 0, (sel >> 4) & 3}};
    ss_set_request set = {.key = key,
                          .value = ff.f[10],
                          .value_len = ff.len[10],
                          .etag = fuzz_opt(ff.f[2]),
                          .metadata = md,
                          .metadata_count = nmd,
                          .options = o};
    ss_error err;
    memset(&err, 0, sizeof err);
    char *etag = NULL;
    ss_code rc = ss_set(&etag, s, &set, &err);
    check_err(rc, &err);
    if (rc == SS_OK) {
        ss_get_request g = {
            .key = key, .consistency = o.consistency, .metadata = md, .metadata_count = nmd};
        ss_value *v = NULL;
        rc = ss_get(&v, s, &g, &err);
        check_err(rc, &err);
        /* Read back byte-exact; a 1 s TTL may just have run out on a slow (sanitized) run. */
        bool ttl = nmd && strcmp(md[0].name, "ttlInSeconds") == 0;
        if (rc == SS_OK && !v && !ttl) abort();
        if (v && (v->len != ff.len[10] || memcmp(v->data, ff.f[10], v->len) != 0)) abort();
        if (v && v->data[v->len] != '\0') abort();
        ss_value_free(v);
    }
    ss_free(etag);

    ss_delete_request del = {
        .key = key, .etag = set.etag, .metadata = md, .metadata_count = nmd, .options = o};
    switch ((sel >> 2) & 3) {
    case 0:
        rc = ss_delete(s, &del, &err);
        check_err(rc, &err);
        break;
    case 1: {
        ss_set_request sets[3] = {set, set, set};
        sets[1].key = "fixed";
        ss_results res = {0};
        rc = ss_bulk_set(&res, s, sets, 3, NULL, &err);
        check_err(rc, &err);
        for (size_t i = 0; i < res.count; i++)
            if (res.items[i].code != SS_OK && !res.items[i].error) abort();
        ss_results_free(&res);
        ss_get_request gets[2] = {{.key = key, .metadata = md, .metadata_count = nmd},
                                  {.key = "fixed", .consistency = o.consistency}};
        rc = ss_bulk_get(&res, s, gets, 2, NULL, &err);
        check_err(rc, &err);
        ss_results_free(&res);
        ss_delete_request dels[2] = {del, {.key = "fixed"}};
        rc = ss_bulk_delete(NULL, s, dels, 2, NULL, &err);
        check_err(rc, &err);
        break;
    }
    default: {
        ss_operation ops[3] = {{.kind = SS_OP_UPSERT, .set = set},
                               {.kind = SS_OP_DELETE, .del = del},
                               {.kind = (ss_op_kind)(sel >> 6), .set = set, .del = del}};
        ss_transaction tx = {.ops = ops, .count = 3, .metadata = md, .metadata_count = nmd};
        rc = ss_transact(s, &tx, &err);
        check_err(rc, &err);
        break;
    }
    }
    ss_close(s);
    fuzz_free(&ff);
    return 0;
}
