/*
 * cmds.c — the subcommands that work on single keys, transactions and driver descriptions.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"
#include "support/base64.h"
#include "support/utf8.h"

int cmd_parse(cli *c, const char *cmd, int argc, char **argv, const opt_spec *opts, cmd_args *a)
{
    memset(a, 0, sizeof *a);
    a->pos = calloc((size_t)argc + 1, sizeof *a->pos);
    if (!a->pos) {
        cli_errorf(c, SS_NOMEM, "out of memory");
        return ss_code_exit_status(SS_NOMEM);
    }
    arg_iter it = {.argc = argc, .argv = argv};
    for (;;) {
        const char *v;
        int r = arg_next(c, &it, cmd, opts, &v);
        char *end;
        unsigned long n;
        switch (r) {
        case ARG_END:
            return -1;
        case ARG_HELP:
            return EXIT_HELP;
        case ARG_ERROR:
            return EXIT_USAGE;
        case ARG_POSITIONAL:
            a->pos[a->npos++] = v;
            break;
        case O_CONSISTENCY:
            a->consistency = v;
            break;
        case O_METADATA:
            if (!pairs_add_kv(&a->metadata, v))
                return cli_usage(c, cmd, "--metadata expects NAME=VALUE, got '%s'", v);
            break;
        case O_ETAG:
            a->etag = v;
            break;
        case O_FIRST_WRITE:
            a->first_write = true;
            break;
        case O_TTL:
            a->ttl = v;
            break;
        case O_FILE:
            a->file = v;
            break;
        case O_KEYS:
            a->keys_file = v;
            break;
        case O_OUTPUT:
            a->output = v;
            break;
        case O_PARALLELISM:
        case O_BATCH:
            errno = 0;
            n = strtoul(v, &end, 10);
            if (!*v || *end || errno || n == 0 || n > 100000 || v[0] == '-')
                return cli_usage(c, cmd, "--%s expects a number from 1 to 100000, got '%s'",
                                 r == O_BATCH ? "batch" : "parallelism", v);
            if (r == O_BATCH)
                a->batch = (unsigned)n;
            else
                a->parallelism = (unsigned)n;
            break;
        default:
            return cli_usage(c, cmd, "unexpected option");
        }
    }
}

void cmd_args_free(cmd_args *a)
{
    if (!a) return;
    free(a->pos);
    pairs_free(&a->metadata);
    memset(a, 0, sizeof *a);
}

/* Prints a value for people: as is when it is one line of printable text. */
static void put_human_value(FILE *f, const char *data, size_t len)
{
    bool plain = ss_utf8_valid(data, len, true);
    for (size_t i = 0; plain && i < len; i++) {
        unsigned char ch = (unsigned char)data[i];
        if (ch < 0x20 || ch == 0x7f) plain = false;
    }
    if (plain) {
        fwrite(data, 1, len, f);
    } else if (ss_utf8_valid(data, len, true)) {
        json_put_string(f, data, len);
    } else {
        char *b = ss_base64_encode_alloc(data, len);
        fprintf(f, "base64:%s", b ? b : "");
        free(b);
    }
}

static void put_metadata_json(FILE *f, const ss_pair *md, size_t count)
{
    fputs("{", f);
    for (size_t i = 0; i < count; i++) {
        if (i) fputs(",", f);
        json_put_string(f, md[i].name, strlen(md[i].name));
        fputs(":", f);
        json_put_string(f, md[i].value, strlen(md[i].value));
    }
    fputs("}", f);
}

void json_put_record(FILE *f, const char *key, const ss_value *v, bool with_found,
                     bool with_metadata)
{
    fputs("{", f);
    json_put_bytes_field(f, "key", key, strlen(key));
    if (with_found) fprintf(f, ",\"found\":%s", v ? "true" : "false");
    if (v) {
        fputs(",", f);
        json_put_value_fields(f, v->data, v->len);
        if (v->etag) {
            fputs(",\"etag\":", f);
            json_put_string(f, v->etag, strlen(v->etag));
        }
        if (with_metadata && v->metadata_count) {
            fputs(",\"metadata\":", f);
            put_metadata_json(f, v->metadata, v->metadata_count);
        }
    }
    fputs("}", f);
}

/* ------------------------------------------------------------------------------------------ */

int cmd_get(cli *c, int argc, char **argv)
{
    static const opt_spec opts[] = {
        {"consistency", 0, true, O_CONSISTENCY}, {"metadata", 0, true, O_METADATA}, {0}};
    cmd_args a;
    int rc = cmd_parse(c, "get", argc, argv, opts, &a);
    if (rc >= 0) goto out;
    if (a.npos != 1) {
        rc = a.npos ? cli_usage(c, "get", "expects one KEY, got %zu arguments", a.npos)
                    : cli_usage(c, "get", "missing KEY");
        goto out;
    }
    if ((rc = cli_open_store(c)) != 0) goto out;

    ss_get_request req = {.key = a.pos[0],
                          .consistency = a.consistency,
                          .metadata = a.metadata.items,
                          .metadata_count = a.metadata.count};
    ss_value *v = NULL;
    ss_error err = {0};
    ss_code code = ss_get(&v, c->store, &req, &err);
    if (code != SS_OK) {
        rc = cli_fail(c, code, &err);
        goto out;
    }
    if (c->json) {
        json_put_record(stdout, req.key, v, true, true);
        fputs("\n", stdout);
    } else if (v) {
        fwrite(v->data, 1, v->len, stdout);
        if (c->stdout_tty && (v->len == 0 || v->data[v->len - 1] != '\n')) fputs("\n", stdout);
        if (!c->quiet) {
            fflush(stdout);
            if (v->etag) fprintf(stderr, "etag: %s\n", v->etag);
            for (size_t i = 0; i < v->metadata_count; i++)
                fprintf(stderr, "%s: %s\n", v->metadata[i].name, v->metadata[i].value);
        }
    }
    if (!v) {
        if (!c->json) fprintf(stderr, "%s: key \"%s\" not found\n", c->prog, req.key);
        rc = ss_code_exit_status(SS_NOT_FOUND);
    } else {
        rc = 0;
    }
    ss_value_free(v);
out:
    cmd_args_free(&a);
    return rc;
}

int cmd_set(cli *c, int argc, char **argv)
{
    static const opt_spec opts[] = {{"etag", 0, true, O_ETAG},
                                    {"first-write", 0, false, O_FIRST_WRITE},
                                    {"ttl", 0, true, O_TTL},
                                    {"file", 'f', true, O_FILE},
                                    {"consistency", 0, true, O_CONSISTENCY},
                                    {"metadata", 0, true, O_METADATA},
                                    {0}};
    cmd_args a;
    char *buf = NULL;
    int rc = cmd_parse(c, "set", argc, argv, opts, &a);
    if (rc >= 0) goto out;
    if (a.npos == 0) {
        rc = cli_usage(c, "set", "missing KEY");
        goto out;
    }
    if (a.npos > 2) {
        rc = cli_usage(c, "set", "expects KEY and one VALUE, got %zu arguments", a.npos);
        goto out;
    }
    if ((a.npos == 2) == (a.file != NULL)) {
        rc = a.file ? cli_usage(c, "set", "give the value either as VALUE or with --file, not both")
                    : cli_usage(c, "set", "missing VALUE (or --file FILE, or - for stdin)");
        goto out;
    }
    if (a.ttl) {
        if (pairs_get(&a.metadata, "ttlInSeconds")) {
            rc = cli_usage(c, "set", "--ttl and --metadata ttlInSeconds=... both given");
            goto out;
        }
        if (!pairs_add(&a.metadata, "ttlInSeconds", 12, a.ttl, strlen(a.ttl))) {
            cli_errorf(c, SS_NOMEM, "out of memory");
            rc = ss_code_exit_status(SS_NOMEM);
            goto out;
        }
    }
    const char *data;
    size_t len;
    const char *src = a.file ? a.file : (strcmp(a.pos[1], "-") == 0 ? "-" : NULL);
    if (src) {
        if ((rc = read_all(c, src, &buf, &len)) != 0) goto out;
        data = buf;
    } else {
        data = a.pos[1];
        len = strlen(data);
    }
    if ((rc = cli_open_store(c)) != 0) goto out;

    ss_set_request req = {.key = a.pos[0],
                          .value = data,
                          .value_len = len,
                          .etag = a.etag,
                          .metadata = a.metadata.items,
                          .metadata_count = a.metadata.count,
                          .options = {.concurrency = a.first_write ? SS_FIRST_WRITE : NULL,
                                      .consistency = a.consistency}};
    char *etag = NULL;
    ss_error err = {0};
    ss_code code = ss_set(&etag, c->store, &req, &err);
    if (code != SS_OK) {
        rc = cli_fail(c, code, &err);
        goto out;
    }
    if (c->json) {
        fputs("{", stdout);
        json_put_bytes_field(stdout, "key", req.key, strlen(req.key));
        fputs(",\"etag\":", stdout);
        if (etag)
            json_put_string(stdout, etag, strlen(etag));
        else
            fputs("null", stdout);
        fputs("}\n", stdout);
    } else if (etag) {
        printf("%s\n", etag);
    }
    ss_free(etag);
    rc = 0;
out:
    free(buf);
    cmd_args_free(&a);
    return rc;
}

int cmd_delete(cli *c, int argc, char **argv)
{
    static const opt_spec opts[] = {{"etag", 0, true, O_ETAG},
                                    {"first-write", 0, false, O_FIRST_WRITE},
                                    {"consistency", 0, true, O_CONSISTENCY},
                                    {"metadata", 0, true, O_METADATA},
                                    {0}};
    cmd_args a;
    int rc = cmd_parse(c, "delete", argc, argv, opts, &a);
    if (rc >= 0) goto out;
    if (a.npos != 1) {
        rc = a.npos ? cli_usage(c, "delete", "expects one KEY, got %zu arguments", a.npos)
                    : cli_usage(c, "delete", "missing KEY");
        goto out;
    }
    if ((rc = cli_open_store(c)) != 0) goto out;
    ss_delete_request req = {.key = a.pos[0],
                             .etag = a.etag,
                             .metadata = a.metadata.items,
                             .metadata_count = a.metadata.count,
                             .options = {.concurrency = a.first_write ? SS_FIRST_WRITE : NULL,
                                         .consistency = a.consistency}};
    ss_error err = {0};
    ss_code code = ss_delete(c->store, &req, &err);
    if (code != SS_OK) {
        rc = cli_fail(c, code, &err);
        goto out;
    }
    if (c->json) {
        fputs("{", stdout);
        json_put_bytes_field(stdout, "key", req.key, strlen(req.key));
        fputs(",\"deleted\":true}\n", stdout);
    }
    rc = 0;
out:
    cmd_args_free(&a);
    return rc;
}

int cmd_bulk_get(cli *c, int argc, char **argv)
{
    static const opt_spec opts[] = {{"parallelism", 0, true, O_PARALLELISM},
                                    {"consistency", 0, true, O_CONSISTENCY},
                                    {"metadata", 0, true, O_METADATA},
                                    {0}};
    cmd_args a;
    ss_get_request *reqs = NULL;
    ss_results res = {0};
    int rc = cmd_parse(c, "bulk-get", argc, argv, opts, &a);
    if (rc >= 0) goto out;
    if (a.npos == 0) {
        rc = cli_usage(c, "bulk-get", "missing KEY...");
        goto out;
    }
    if ((rc = cli_open_store(c)) != 0) goto out;
    reqs = calloc(a.npos, sizeof *reqs);
    if (!reqs) {
        cli_errorf(c, SS_NOMEM, "out of memory");
        rc = ss_code_exit_status(SS_NOMEM);
        goto out;
    }
    for (size_t i = 0; i < a.npos; i++) {
        reqs[i].key = a.pos[i];
        reqs[i].consistency = a.consistency;
        reqs[i].metadata = a.metadata.items;
        reqs[i].metadata_count = a.metadata.count;
    }
    ss_bulk_options bo = {.parallelism = a.parallelism};
    ss_error err = {0};
    ss_code code = ss_bulk_get(&res, c->store, reqs, a.npos, &bo, &err);
    if (code != SS_OK) {
        rc = cli_fail(c, code, &err);
        goto out;
    }
    ss_code first = SS_OK;
    if (c->json) fputs("[", stdout);
    for (size_t i = 0; i < res.count && i < a.npos; i++) {
        const ss_item_result *it = &res.items[i];
        if (it->code != SS_OK && first == SS_OK) first = it->code;
        if (c->json) {
            if (i) fputs(",", stdout);
            if (it->code != SS_OK) {
                fputs("{", stdout);
                json_put_bytes_field(stdout, "key", reqs[i].key, strlen(reqs[i].key));
                fprintf(stdout, ",\"error\":{\"code\":\"%s\",\"message\":", ss_code_name(it->code));
                const char *m = it->error ? it->error : ss_code_text(it->code);
                json_put_string(stdout, m, strlen(m));
                fputs("}}", stdout);
            } else {
                json_put_record(stdout, reqs[i].key, it->value, true, true);
            }
            continue;
        }
        put_human_value(stdout, reqs[i].key, strlen(reqs[i].key));
        if (it->code != SS_OK) {
            printf("\t(error: %s)\n", it->error ? it->error : ss_code_text(it->code));
        } else if (!it->value) {
            printf("\t(not found)\n");
        } else {
            printf("\tetag=%s\t", it->value->etag ? it->value->etag : "");
            put_human_value(stdout, it->value->data, it->value->len);
            fputs("\n", stdout);
        }
    }
    if (c->json) fputs("]\n", stdout);
    rc = ss_code_exit_status(first);
out:
    ss_results_free(&res);
    free(reqs);
    cmd_args_free(&a);
    return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* transact                                                                                    */
/* ------------------------------------------------------------------------------------------ */

/* Reads a JSON object of string values into pairs kept in `keep`. */
static int get_string_map(const ss_json *d, int obj, ss_arena *keep, const ss_pair **out,
                          size_t *count, const char *path, char *why, size_t why_len)
{
    *out = NULL;
    *count = 0;
    if (obj < 0 || ss_json_typeof(d, obj) == SS_JSON_NULL) return 0;
    if (ss_json_typeof(d, obj) != SS_JSON_OBJECT) {
        snprintf(why, why_len, "%s: expected an object of strings", path);
        return 1;
    }
    int n = ss_json_size(d, obj);
    if (n == 0) return 0;
    ss_pair *pairs_arr = ss_arena_alloc(keep, (size_t)n * sizeof *pairs_arr);
    if (!pairs_arr) {
        snprintf(why, why_len, "out of memory");
        return 1;
    }
    int t = obj + 1;
    for (int i = 0; i < n; i++) {
        size_t kl, vl;
        char *k = ss_json_string(d, t, keep, &kl);
        char *v = ss_json_string(d, t + 1, keep, &vl);
        if (keep->oom) {
            snprintf(why, why_len, "out of memory");
            return 1;
        }
        if (!k || !v || strlen(k) != kl || strlen(v) != vl) {
            snprintf(why, why_len, "%s: values must be strings without NUL characters", path);
            return 1;
        }
        pairs_arr[i].name = k;
        pairs_arr[i].value = v;
        t = ss_json_next(d, t + 1); /* past the member's value */
    }
    *out = pairs_arr;
    *count = (size_t)n;
    return 0;
}

/* An optional string field; absent and null leave *out NULL. */
static int get_opt_string(const ss_json *d, int obj, const char *field, ss_arena *keep,
                          const char **out, const char *path, char *why, size_t why_len)
{
    *out = NULL;
    int t = ss_json_get(d, obj, field, true);
    if (t < 0 || ss_json_typeof(d, t) == SS_JSON_NULL) return 0;
    size_t n;
    char *s = ss_json_string(d, t, keep, &n);
    if (keep->oom) {
        snprintf(why, why_len, "out of memory");
        return 1;
    }
    if (!s || strlen(s) != n) {
        snprintf(why, why_len, "%s.%s: expected a string", path, field);
        return 1;
    }
    *out = s;
    return 0;
}

static int build_transaction(const ss_json *d, ss_arena *keep, ss_transaction *tx, char *why,
                             size_t why_len)
{
    memset(tx, 0, sizeof *tx);
    if (ss_json_typeof(d, 0) != SS_JSON_OBJECT) {
        snprintf(why, why_len, "expected an object {\"operations\": [...], \"metadata\": {...}}");
        return 1;
    }
    if (get_string_map(d, ss_json_get(d, 0, "metadata", true), keep, &tx->metadata,
                       &tx->metadata_count, "metadata", why, why_len))
        return 1;
    int ops = ss_json_get(d, 0, "operations", true);
    if (ops < 0 || ss_json_typeof(d, ops) == SS_JSON_NULL) return 0;
    if (ss_json_typeof(d, ops) != SS_JSON_ARRAY) {
        snprintf(why, why_len, "operations: expected an array");
        return 1;
    }
    int n = ss_json_size(d, ops);
    if (n == 0) return 0;
    ss_operation *arr = ss_arena_alloc(keep, (size_t)n * sizeof *arr);
    if (!arr) {
        snprintf(why, why_len, "out of memory");
        return 1;
    }
    int t = ops + 1;
    for (int i = 0; i < n; i++, t = ss_json_next(d, t)) {
        char path[64];
        snprintf(path, sizeof path, "operations[%d]", i);
        if (ss_json_typeof(d, t) != SS_JSON_OBJECT) {
            snprintf(why, why_len, "%s: expected an object", path);
            return 1;
        }
        const char *kind;
        if (get_opt_string(d, t, "operation", keep, &kind, path, why, why_len)) return 1;
        if (!kind) {
            snprintf(why, why_len, "%s: missing \"operation\"", path);
            return 1;
        }
        int req = ss_json_get(d, t, "request", true);
        char rpath[80];
        snprintf(rpath, sizeof rpath, "%s.request", path);
        if (req < 0 || ss_json_typeof(d, req) != SS_JSON_OBJECT) {
            snprintf(why, why_len, "%s: %s", rpath, req < 0 ? "missing" : "expected an object");
            return 1;
        }
        const char *key, *etag, *concurrency = NULL, *consistency = NULL;
        if (get_opt_string(d, req, "key", keep, &key, rpath, why, why_len)) return 1;
        if (!key || !*key) {
            snprintf(why, why_len, "%s: missing \"key\"", rpath);
            return 1;
        }
        if (get_opt_string(d, req, "etag", keep, &etag, rpath, why, why_len)) return 1;
        const ss_pair *md;
        size_t mdn;
        char mpath[96];
        snprintf(mpath, sizeof mpath, "%s.metadata", rpath);
        if (get_string_map(d, ss_json_get(d, req, "metadata", true), keep, &md, &mdn, mpath, why,
                           why_len))
            return 1;
        int opt = ss_json_get(d, req, "options", true);
        if (opt >= 0 && ss_json_typeof(d, opt) != SS_JSON_NULL) {
            char opath[96];
            snprintf(opath, sizeof opath, "%s.options", rpath);
            if (ss_json_typeof(d, opt) != SS_JSON_OBJECT) {
                snprintf(why, why_len, "%s: expected an object", opath);
                return 1;
            }
            if (get_opt_string(d, opt, "concurrency", keep, &concurrency, opath, why, why_len) ||
                get_opt_string(d, opt, "consistency", keep, &consistency, opath, why, why_len))
                return 1;
        }
        ss_write_options wo = {.concurrency = concurrency, .consistency = consistency};
        if (strcmp(kind, "upsert") == 0) {
            const char *data;
            size_t len;
            bool present;
            char vwhy[256];
            if (json_get_value_fields(d, req, true, keep, &data, &len, &present, vwhy,
                                      sizeof vwhy)) {
                snprintf(why, why_len, "%s: %s", rpath, vwhy);
                return 1;
            }
            if (!present) {
                snprintf(why, why_len, "%s: missing \"value\"", rpath);
                return 1;
            }
            arr[i].kind = SS_OP_UPSERT;
            arr[i].set = (ss_set_request){.key = key,
                                          .value = data,
                                          .value_len = len,
                                          .etag = etag,
                                          .metadata = md,
                                          .metadata_count = mdn,
                                          .options = wo};
        } else if (strcmp(kind, "delete") == 0) {
            arr[i].kind = SS_OP_DELETE;
            arr[i].del = (ss_delete_request){
                .key = key, .etag = etag, .metadata = md, .metadata_count = mdn, .options = wo};
        } else {
            snprintf(why, why_len, "%s.operation: \"%s\" is not supported (upsert or delete)", path,
                     kind);
            return 1;
        }
    }
    tx->ops = arr;
    tx->count = (size_t)n;
    return 0;
}

int cmd_transact(cli *c, int argc, char **argv)
{
    static const opt_spec opts[] = {{"metadata", 0, true, O_METADATA}, {0}};
    cmd_args a;
    char *buf = NULL;
    ss_json d = {0};
    ss_arena keep = {0};
    ss_pair *md = NULL;
    int rc = cmd_parse(c, "transact", argc, argv, opts, &a);
    if (rc >= 0) goto out;
    if (a.npos != 1) {
        rc = a.npos ? cli_usage(c, "transact", "expects one FILE, got %zu arguments", a.npos)
                    : cli_usage(c, "transact", "missing FILE (or -)");
        goto out;
    }
    const char *path = a.pos[0];
    size_t len;
    if ((rc = read_all(c, path, &buf, &len)) != 0) goto out;
    char why[512];
    ss_transaction tx;
    if (ss_json_parse(&d, buf, len, SS_JSON_UTF8, why, sizeof why) != SS_JSON_OK ||
        build_transaction(&d, &keep, &tx, why, sizeof why) != 0) {
        cli_errorf(c, SS_INVALID, "%s: %s", strcmp(path, "-") == 0 ? "stdin" : path, why);
        rc = ss_code_exit_status(SS_INVALID);
        goto out;
    }
    if (a.metadata.count) {
        /* Command-line metadata is added to (and wins over) the file's. */
        md = calloc(tx.metadata_count + a.metadata.count, sizeof *md);
        if (!md) {
            cli_errorf(c, SS_NOMEM, "out of memory");
            rc = ss_code_exit_status(SS_NOMEM);
            goto out;
        }
        size_t n = 0;
        for (size_t i = 0; i < tx.metadata_count; i++)
            if (!pairs_get(&a.metadata, tx.metadata[i].name)) md[n++] = tx.metadata[i];
        for (size_t i = 0; i < a.metadata.count; i++) md[n++] = a.metadata.items[i];
        tx.metadata = md;
        tx.metadata_count = n;
    }
    if ((rc = cli_open_store(c)) != 0) goto out;
    ss_error err = {0};
    ss_code code = ss_transact(c->store, &tx, &err);
    if (code != SS_OK) {
        rc = cli_fail(c, code, &err);
        goto out;
    }
    if (c->json)
        printf("{\"operations\":%zu}\n", tx.count);
    else if (!c->quiet)
        fprintf(stderr, "applied %zu operation%s\n", tx.count, tx.count == 1 ? "" : "s");
    rc = 0;
out:
    free(md);
    ss_arena_free(&keep);
    ss_json_dispose(&d);
    free(buf);
    cmd_args_free(&a);
    return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* describe, drivers                                                                           */
/* ------------------------------------------------------------------------------------------ */

static void put_features_human(FILE *f, unsigned flags)
{
    bool any = false;
    for (unsigned bit = 1; bit && bit <= flags; bit <<= 1) {
        if (!(flags & bit)) continue;
        fprintf(f, "%s%s", any ? " " : "", ss_feature_name(bit));
        any = true;
    }
    if (!any) fputs("(none)", f);
}

static void put_driver_json(FILE *f, const ss_driver_info *d, bool with_props)
{
    fputs("{\"name\":", f);
    json_put_string(f, d->name, strlen(d->name));
    fputs(",\"aliases\":[", f);
    for (size_t i = 0; d->aliases && d->aliases[i]; i++) {
        if (i) fputs(",", f);
        json_put_string(f, d->aliases[i], strlen(d->aliases[i]));
    }
    fputs("],\"version\":", f);
    const char *ver = d->version ? d->version : "";
    json_put_string(f, ver, strlen(ver));
    fputs(",\"summary\":", f);
    const char *sum = d->summary ? d->summary : "";
    json_put_string(f, sum, strlen(sum));
    fputs(",\"features\":[", f);
    bool any = false;
    for (unsigned bit = 1; bit && bit <= d->features.flags; bit <<= 1) {
        if (!(d->features.flags & bit)) continue;
        if (any) fputs(",", f);
        const char *name = ss_feature_name(bit);
        json_put_string(f, name, strlen(name));
        any = true;
    }
    fprintf(f, "],\"limits\":{\"maxTxOps\":%zu,\"maxKeyLen\":%zu,\"maxValueLen\":%zu}",
            d->features.max_tx_ops, d->features.max_key_len, d->features.max_value_len);
    if (with_props) {
        fputs(",\"properties\":[", f);
        for (size_t i = 0; i < d->property_count; i++) {
            const ss_property *p = &d->properties[i];
            if (i) fputs(",", f);
            fputs("{\"name\":", f);
            json_put_string(f, p->name, strlen(p->name));
            fprintf(f,
                    ",\"required\":%s,\"secret\":%s,\"default\":", p->required ? "true" : "false",
                    p->secret ? "true" : "false");
            if (p->fallback)
                json_put_string(f, p->fallback, strlen(p->fallback));
            else
                fputs("null", f);
            fputs(",\"doc\":", f);
            const char *doc = p->doc ? p->doc : "";
            json_put_string(f, doc, strlen(doc));
            fputs("}", f);
        }
        fputs("]", f);
    }
    fputs("}", f);
}

static void put_limit(FILE *f, const char *what, size_t v)
{
    if (v)
        fprintf(f, "  %-22s %zu\n", what, v);
    else
        fprintf(f, "  %-22s no limit\n", what);
}

int cmd_describe(cli *c, int argc, char **argv)
{
    cmd_args a;
    int rc = cmd_parse(c, "describe", argc, argv, NULL, &a);
    if (rc >= 0) goto out;
    if (a.npos != 1) {
        rc = a.npos ? cli_usage(c, "describe", "expects one DRIVER, got %zu arguments", a.npos)
                    : cli_usage(c, "describe", "missing DRIVER");
        goto out;
    }
    ss_driver_info d;
    if (!ss_driver_find(a.pos[0], &d)) {
        char names[512] = "";
        size_t n = ss_driver_count();
        for (size_t i = 0; i < n; i++) {
            ss_driver_info o;
            if (!ss_driver_at(i, &o)) continue;
            size_t used = strlen(names);
            snprintf(names + used, sizeof names - used, "%s%s", used ? ", " : "", o.name);
        }
        cli_errorf(c, SS_INVALID, "unknown driver \"%s\" (built in: %s)", a.pos[0], names);
        rc = ss_code_exit_status(SS_INVALID);
        goto out;
    }
    if (c->json) {
        put_driver_json(stdout, &d, true);
        fputs("\n", stdout);
        rc = 0;
        goto out;
    }
    printf("%s %s — %s\n", d.name, d.version ? d.version : "", d.summary ? d.summary : "");
    if (d.aliases && d.aliases[0]) {
        printf("aliases:");
        for (size_t i = 0; d.aliases[i]; i++) printf(" %s", d.aliases[i]);
        printf("\n");
    }
    printf("features: ");
    put_features_human(stdout, d.features.flags);
    printf("\nlimits:\n");
    put_limit(stdout, "transaction operations", d.features.max_tx_ops);
    put_limit(stdout, "key bytes", d.features.max_key_len);
    put_limit(stdout, "value bytes", d.features.max_value_len);
    printf("properties:\n");
    if (d.property_count == 0) printf("  (none)\n");
    size_t w = 4;
    for (size_t i = 0; i < d.property_count; i++)
        if (strlen(d.properties[i].name) > w) w = strlen(d.properties[i].name);
    size_t dw = 7;
    for (size_t i = 0; i < d.property_count; i++)
        if (d.properties[i].fallback && strlen(d.properties[i].fallback) > dw)
            dw = strlen(d.properties[i].fallback);
    if (dw > 30) dw = 30;
    if (d.property_count)
        printf("  %-*s  %-8s  %-*s  %s\n", (int)w, "NAME", "REQUIRED", (int)dw, "DEFAULT", "DOC");
    for (size_t i = 0; i < d.property_count; i++) {
        const ss_property *p = &d.properties[i];
        printf("  %-*s  %-8s  %-*s  %s%s\n", (int)w, p->name, p->required ? "yes" : "no", (int)dw,
               p->fallback ? p->fallback : "-", p->secret ? "(secret) " : "", p->doc ? p->doc : "");
    }
    rc = 0;
out:
    cmd_args_free(&a);
    return rc;
}

int cmd_drivers(cli *c, int argc, char **argv)
{
    cmd_args a;
    int rc = cmd_parse(c, "drivers", argc, argv, NULL, &a);
    if (rc >= 0) goto out;
    if (a.npos != 0) {
        rc = cli_usage(c, "drivers", "takes no arguments");
        goto out;
    }
    size_t n = ss_driver_count();
    int width = 0; /* the longest name, so the columns line up */
    for (size_t i = 0; i < n; i++) {
        ss_driver_info d;
        if (ss_driver_at(i, &d) && (int)strlen(d.name) > width) width = (int)strlen(d.name);
    }
    if (c->json) fputs("[", stdout);
    for (size_t i = 0; i < n; i++) {
        ss_driver_info d;
        if (!ss_driver_at(i, &d)) continue;
        if (c->json) {
            if (i) fputs(",", stdout);
            put_driver_json(stdout, &d, false);
            continue;
        }
        printf("%-*s %-6s ", width, d.name, d.version ? d.version : "");
        put_features_human(stdout, d.features.flags);
        printf("  %s\n", d.summary ? d.summary : "");
    }
    if (c->json) fputs("]\n", stdout);
    rc = 0;
out:
    cmd_args_free(&a);
    return rc;
}
