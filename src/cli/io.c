/*
 * io.c — import and export as JSON Lines.
 *
 * One record per line: {"key": ..., "value": <json> | "text": "..." | "base64": "...",
 * "etag": ...}. Records are written and read in batches through bulk set / bulk get.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "support/base64.h"

#define DEFAULT_BATCH 100

static const char *shown_name(const char *path)
{
    return strcmp(path, "-") == 0 ? "stdin" : path;
}

/* ------------------------------------------------------------------------------------------ */
/* import                                                                                      */
/* ------------------------------------------------------------------------------------------ */

typedef struct batch {
    ss_set_request *reqs;
    unsigned long *lines;
    size_t count, cap;
    ss_arena keep; /* line buffers and decoded strings the requests point into */
} batch;

static void batch_clear(batch *b)
{
    ss_arena_free(&b->keep);
    b->count = 0;
}

/* Writes the pending records. Returns 0, or an exit status when the whole call failed. */
static int batch_flush(cli *c, batch *b, const char *origin, ss_code *first_failure,
                       unsigned long long *written)
{
    if (b->count == 0) return 0;
    ss_results res = {0};
    ss_error err = {0};
    ss_code code = ss_bulk_set(&res, c->store, b->reqs, b->count, NULL, &err);
    int rc = 0;
    if (code != SS_OK && res.count != b->count) {
        /* Nothing per item: the call itself failed (e.g. the store is down). */
        cli_errorf(c, code, "%s:%lu: %s", origin, b->lines[0], err.message);
        rc = ss_code_exit_status(code);
    } else {
        for (size_t i = 0; i < res.count; i++) {
            if (res.items[i].code == SS_OK) {
                (*written)++;
                continue;
            }
            if (*first_failure == SS_OK) *first_failure = res.items[i].code;
            fprintf(stderr, "%s: %s:%lu: %s\n", c->prog, origin, b->lines[i],
                    res.items[i].error ? res.items[i].error : ss_code_text(res.items[i].code));
        }
    }
    ss_results_free(&res);
    batch_clear(b);
    return rc;
}

/* Turns one line into a request in the batch (the line buffer moves into the batch's arena). */
static int parse_record(batch *b, char *line, size_t len, bool first_write, char *why,
                        size_t why_len)
{
    if (!ss_arena_keep(&b->keep, line)) {
        snprintf(why, why_len, "out of memory");
        return 1;
    }
    ss_json d;
    if (ss_json_parse(&d, line, len, SS_JSON_UTF8, why, why_len) != SS_JSON_OK) return 1;
    int rc = 1;
    if (ss_json_typeof(&d, 0) != SS_JSON_OBJECT) {
        snprintf(why, why_len, "expected an object {\"key\": ..., \"value\": ...}");
        goto out;
    }
    int tk = ss_json_get(&d, 0, "key", false);
    int tkb = ss_json_get(&d, 0, "key_base64", false);
    if ((tk >= 0) == (tkb >= 0)) {
        snprintf(why, why_len, tk >= 0 ? "both \"key\" and \"key_base64\"" : "missing \"key\"");
        goto out;
    }
    size_t kl;
    char *key = ss_json_string(&d, tk >= 0 ? tk : tkb, &b->keep, &kl);
    if (b->keep.oom) {
        snprintf(why, why_len, "out of memory");
        goto out;
    }
    if (!key) {
        snprintf(why, why_len, "\"%s\" must be a string", tk >= 0 ? "key" : "key_base64");
        goto out;
    }
    if (tkb >= 0) {
        char *raw;
        if (!ss_base64_decode_alloc(&raw, &kl, key, kl)) {
            snprintf(why, why_len, "\"key_base64\" is not valid base64");
            goto out;
        }
        if (!(key = ss_arena_keep(&b->keep, raw))) {
            snprintf(why, why_len, "out of memory");
            goto out;
        }
    }
    if (strlen(key) != kl) {
        snprintf(why, why_len, "key contains a NUL byte");
        goto out;
    }
    const char *data;
    size_t dl;
    bool present;
    if (json_get_value_fields(&d, 0, false, &b->keep, &data, &dl, &present, why, why_len)) goto out;
    if (!present) {
        snprintf(why, why_len, "missing \"value\" (or \"text\" / \"base64\")");
        goto out;
    }
    /* Per-record metadata (e.g. ttlInSeconds) travels with the write. */
    const ss_pair *md = NULL;
    size_t mdn = 0;
    int tm = ss_json_get(&d, 0, "metadata", false);
    if (tm >= 0 && ss_json_typeof(&d, tm) != SS_JSON_NULL) {
        if (ss_json_typeof(&d, tm) != SS_JSON_OBJECT) {
            snprintf(why, why_len, "\"metadata\" must be an object of strings");
            goto out;
        }
        int n = ss_json_size(&d, tm);
        ss_pair *arr = n ? ss_arena_alloc(&b->keep, (size_t)n * sizeof *arr) : NULL;
        if (n && !arr) {
            snprintf(why, why_len, "out of memory");
            goto out;
        }
        int t = tm + 1;
        for (int i = 0; i < n; i++, t = ss_json_next(&d, t + 1)) { /* t: a member's name */
            size_t a, v;
            char *name = ss_json_string(&d, t, &b->keep, &a);
            char *val = ss_json_string(&d, t + 1, &b->keep, &v);
            if (b->keep.oom) {
                snprintf(why, why_len, "out of memory");
                goto out;
            }
            if (!name || !val || strlen(name) != a || strlen(val) != v) {
                snprintf(why, why_len, "\"metadata\" values must be strings");
                goto out;
            }
            arr[i].name = name;
            arr[i].value = val;
        }
        md = arr;
        mdn = (size_t)n;
    }
    b->reqs[b->count] = (ss_set_request){
        .key = key,
        .value = data,
        .value_len = dl,
        .metadata = md,
        .metadata_count = mdn,
        .options = {.concurrency = first_write ? SS_FIRST_WRITE : NULL},
    };
    rc = 0;
out:
    ss_json_dispose(&d);
    return rc;
}

static bool blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n') return false;
    return true;
}

int cmd_import(cli *c, int argc, char **argv)
{
    static const opt_spec opts[] = {
        {"first-write", 0, false, O_FIRST_WRITE}, {"batch", 0, true, O_BATCH}, {0}};
    cmd_args a;
    batch b = {0};
    FILE *f = NULL;
    char *line = NULL;
    int rc = cmd_parse(c, "import", argc, argv, opts, &a);
    if (rc >= 0) goto out;
    if (a.npos > 1) {
        rc = cli_usage(c, "import", "expects at most one FILE, got %zu arguments", a.npos);
        goto out;
    }
    const char *path = a.npos ? a.pos[0] : "-";
    const char *origin = shown_name(path);
    f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f) {
        cli_errorf(c, SS_INVALID, "%s: %s", path, strerror(errno));
        rc = EXIT_NOINPUT;
        goto out;
    }
    if ((rc = cli_open_store(c)) != 0) goto out;

    b.cap = a.batch ? a.batch : DEFAULT_BATCH;
    b.reqs = calloc(b.cap, sizeof *b.reqs);
    b.lines = calloc(b.cap, sizeof *b.lines);
    if (!b.reqs || !b.lines) {
        cli_errorf(c, SS_NOMEM, "out of memory");
        rc = ss_code_exit_status(SS_NOMEM);
        goto out;
    }
    struct stat st;
    unsigned long long total = 0;
    if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode)) total = (unsigned long long)st.st_size;
    progress p;
    progress_start(&p, c, "importing", total);

    ss_code first_failure = SS_OK;
    unsigned long long written = 0, bytes = 0;
    unsigned long lineno = 0;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, f)) >= 0) {
        lineno++;
        bytes += (unsigned long long)n;
        if (blank(line, (size_t)n)) continue;
        char why[512];
        b.lines[b.count] = lineno;
        /* The buffer becomes the batch's; getline allocates a fresh one next time. */
        char *owned = line;
        line = NULL;
        cap = 0;
        if (parse_record(&b, owned, (size_t)n, a.first_write, why, sizeof why) != 0) {
            progress_end(&p);
            if ((rc = batch_flush(c, &b, origin, &first_failure, &written)) != 0) goto out;
            cli_errorf(c, SS_INVALID, "%s:%lu: %s", origin, lineno, why);
            rc = ss_code_exit_status(SS_INVALID);
            goto out;
        }
        if (++b.count == b.cap) {
            if ((rc = batch_flush(c, &b, origin, &first_failure, &written)) != 0) {
                progress_end(&p);
                goto out;
            }
            progress_update(&p, bytes, written);
        }
    }
    if (ferror(f)) {
        progress_end(&p);
        cli_errorf(c, SS_INVALID, "%s: read failed: %s", origin, strerror(errno));
        rc = EXIT_IOERR;
        goto out;
    }
    rc = batch_flush(c, &b, origin, &first_failure, &written);
    progress_update(&p, bytes, written);
    progress_end(&p);
    if (rc) goto out;
    if (c->json)
        printf("{\"imported\":%llu,\"failed\":%s}\n", written,
               first_failure == SS_OK ? "false" : "true");
    else if (!c->quiet)
        fprintf(stderr, "imported %llu record%s\n", written, written == 1 ? "" : "s");
    rc = ss_code_exit_status(first_failure);
out:
    free(line);
    batch_clear(&b);
    free(b.reqs);
    free(b.lines);
    if (f && f != stdin) fclose(f);
    cmd_args_free(&a);
    return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* export                                                                                      */
/* ------------------------------------------------------------------------------------------ */

/* The keys to export, in order; their text lives in `mem`. */
typedef struct keylist {
    const char **items;
    size_t count, cap;
    ss_arena mem;
} keylist;

static bool keylist_add(keylist *l, const char *k, size_t n)
{
    if (l->count == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        const char **items = realloc(l->items, cap * sizeof *items);
        if (!items) return false;
        l->items = items;
        l->cap = cap;
    }
    char *copy = ss_arena_alloc(&l->mem, n + 1);
    if (!copy) return false;
    memcpy(copy, k, n);
    l->items[l->count++] = copy;
    return true;
}

static void keylist_free(keylist *l)
{
    free(l->items);
    ss_arena_free(&l->mem);
    memset(l, 0, sizeof *l);
}

/* Adds one key per line of `path` (a trailing "\n" or "\r\n" is not part of the key). */
static int read_keys(cli *c, const char *path, keylist *keys)
{
    char *buf;
    size_t len;
    int rc = read_all(c, path, &buf, &len);
    if (rc) return rc;
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && buf[i] != '\n') continue;
        size_t end = i;
        if (end > start && buf[end - 1] == '\r') end--;
        if (end > start) {
            if (memchr(buf + start, '\0', end - start)) {
                free(buf);
                cli_errorf(c, SS_INVALID, "%s: a key contains a NUL byte", shown_name(path));
                return ss_code_exit_status(SS_INVALID);
            }
            if (!keylist_add(keys, buf + start, end - start)) {
                free(buf);
                cli_errorf(c, SS_NOMEM, "out of memory");
                return ss_code_exit_status(SS_NOMEM);
            }
        }
        start = i + 1;
    }
    free(buf);
    return 0;
}

int cmd_export(cli *c, int argc, char **argv)
{
    static const opt_spec opts[] = {{"keys", 0, true, O_KEYS},
                                    {"output", 'o', true, O_OUTPUT},
                                    {"batch", 0, true, O_BATCH},
                                    {0}};
    cmd_args a;
    keylist keys = {0};
    ss_get_request *reqs = NULL;
    FILE *out = NULL;
    int rc = cmd_parse(c, "export", argc, argv, opts, &a);
    if (rc >= 0) goto done;
    for (size_t i = 0; i < a.npos; i++) {
        if (!keylist_add(&keys, a.pos[i], strlen(a.pos[i]))) {
            cli_errorf(c, SS_NOMEM, "out of memory");
            rc = ss_code_exit_status(SS_NOMEM);
            goto done;
        }
    }
    if (a.keys_file && (rc = read_keys(c, a.keys_file, &keys)) != 0) goto done;
    if (keys.count == 0) {
        rc = cli_usage(c, "export",
                       "no keys to export: the state API cannot list keys, so give them as "
                       "arguments or with --keys FILE");
        goto done;
    }
    const char *opath = a.output ? a.output : "-";
    bool to_stdout = strcmp(opath, "-") == 0;
    out = to_stdout ? stdout : fopen(opath, "wb");
    if (!out) {
        cli_errorf(c, SS_INVALID, "%s: %s", opath, strerror(errno));
        rc = EXIT_CANTCREAT;
        goto done;
    }
    if ((rc = cli_open_store(c)) != 0) goto done;

    size_t per_call = a.batch ? a.batch : DEFAULT_BATCH;
    reqs = calloc(per_call, sizeof *reqs);
    if (!reqs) {
        cli_errorf(c, SS_NOMEM, "out of memory");
        rc = ss_code_exit_status(SS_NOMEM);
        goto done;
    }
    progress p;
    progress_start(&p, c, "exporting", keys.count);
    ss_code first_failure = SS_OK;
    unsigned long long exported = 0, missing = 0;
    for (size_t at = 0; at < keys.count; at += per_call) {
        size_t n = keys.count - at < per_call ? keys.count - at : per_call;
        for (size_t i = 0; i < n; i++) reqs[i] = (ss_get_request){.key = keys.items[at + i]};
        ss_results res = {0};
        ss_error err = {0};
        ss_code code = ss_bulk_get(&res, c->store, reqs, n, NULL, &err);
        if (code != SS_OK) {
            progress_end(&p);
            rc = cli_fail(c, code, &err);
            goto done;
        }
        for (size_t i = 0; i < res.count && i < n; i++) {
            const ss_item_result *it = &res.items[i];
            if (it->code != SS_OK) {
                if (first_failure == SS_OK) first_failure = it->code;
                fprintf(stderr, "%s: %s\n", c->prog,
                        it->error ? it->error : ss_code_text(it->code));
            } else if (!it->value) {
                missing++;
            } else {
                json_put_record(out, reqs[i].key, it->value, false, false);
                fputc('\n', out);
                exported++;
            }
        }
        ss_results_free(&res);
        progress_update(&p, at + n, exported);
    }
    progress_end(&p);
    if (fflush(out) != 0 || ferror(out)) {
        cli_errorf(c, SS_INVALID, "%s: write failed: %s", to_stdout ? "stdout" : opath,
                   strerror(errno));
        rc = EXIT_IOERR;
        goto done;
    }
    if (!c->quiet)
        fprintf(stderr, "exported %llu record%s, %llu key%s not found\n", exported,
                exported == 1 ? "" : "s", missing, missing == 1 ? "" : "s");
    rc = ss_code_exit_status(first_failure);
done:
    if (out && out != stdout && fclose(out) != 0 && rc == 0) {
        cli_errorf(c, SS_INVALID, "%s: write failed: %s", a.output, strerror(errno));
        rc = EXIT_IOERR;
    }
    free(reqs);
    keylist_free(&keys);
    cmd_args_free(&a);
    return rc;
}
