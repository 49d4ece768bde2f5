/*
 * util.c — small helpers for the CLI: owned pairs, whole-file reads, error reporting and the
 * progress line.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"

void pairs_free(pairs *p)
{
    if (!p) return;
    for (size_t i = 0; i < p->count; i++) {
        free((char *)p->items[i].name);
        free((char *)p->items[i].value);
    }
    free(p->items);
    p->items = NULL;
    p->count = 0;
}

bool pairs_add(pairs *p, const char *name, size_t name_len, const char *value, size_t value_len)
{
    ss_pair *items = realloc(p->items, (p->count + 1) * sizeof *items);
    if (!items) return false;
    p->items = items;
    char *n = malloc(name_len + 1);
    char *v = malloc(value_len + 1);
    if (!n || !v) {
        free(n);
        free(v);
        return false;
    }
    memcpy(n, name, name_len);
    n[name_len] = '\0';
    memcpy(v, value, value_len);
    v[value_len] = '\0';
    items[p->count].name = n;
    items[p->count].value = v;
    p->count++;
    return true;
}

bool pairs_add_kv(pairs *p, const char *kv)
{
    const char *eq = strchr(kv, '=');
    if (!eq || eq == kv) return false;
    return pairs_add(p, kv, (size_t)(eq - kv), eq + 1, strlen(eq + 1));
}

const char *pairs_get(const pairs *p, const char *name)
{
    for (size_t i = 0; i < p->count; i++)
        if (strcmp(p->items[i].name, name) == 0) return p->items[i].value;
    return NULL;
}

/* ------------------------------------------------------------------------------------------ */

static void vreport(const cli *c, ss_code code, const char *fmt, va_list ap)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 0)))
#endif
    ;

static void vreport(const cli *c, ss_code code, const char *fmt, va_list ap)
{
    char msg[2048];
    vsnprintf(msg, sizeof msg, fmt, ap);
    fprintf(stderr, "%s: %s\n", c->prog, msg);
    if (c->json) {
        /* Scripts reading --json output get the failure on stdout too. */
        fprintf(stdout, "{\"error\":{\"code\":\"%s\",\"message\":", ss_code_name(code));
        json_put_string(stdout, msg, strlen(msg));
        fprintf(stdout, ",\"retryable\":%s}}\n", ss_code_retryable(code) ? "true" : "false");
    }
}

void cli_errorf(const cli *c, ss_code code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vreport(c, code, fmt, ap);
    va_end(ap);
}

int cli_fail(const cli *c, ss_code code, const ss_error *err)
{
    const char *msg = (err && err->message[0]) ? err->message : ss_code_text(code);
    cli_errorf(c, code, "%s", msg);
    return ss_code_exit_status(code);
}

int cli_usage(const cli *c, const char *cmd, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s%s%s: %s\n", c->prog, cmd ? " " : "", cmd ? cmd : "", msg);
    fprintf(stderr, "Run '%s%s%s --help' for usage.\n", c->prog, cmd ? " " : "", cmd ? cmd : "");
    return EXIT_USAGE;
}

int read_all(const cli *c, const char *path, char **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    bool is_stdin = strcmp(path, "-") == 0;
    FILE *f = is_stdin ? stdin : fopen(path, "rb");
    if (!f) {
        cli_errorf(c, SS_INVALID, "%s: %s", path, strerror(errno));
        return EXIT_NOINPUT;
    }
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    int rc = 0;
    while (buf) {
        if (n + 1 >= cap) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0) break;
    }
    if (!buf) {
        cli_errorf(c, SS_NOMEM, "%s: out of memory", path);
        rc = ss_code_exit_status(SS_NOMEM);
    } else if (ferror(f)) {
        cli_errorf(c, SS_INVALID, "%s: read failed: %s", is_stdin ? "stdin" : path,
                   strerror(errno));
        free(buf);
        buf = NULL;
        rc = EXIT_IOERR;
    }
    if (!is_stdin) fclose(f);
    if (rc) return rc;
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return 0;
}

/* ------------------------------------------------------------------------------------------ */

void progress_start(progress *p, const cli *c, const char *what, unsigned long long total)
{
    memset(p, 0, sizeof *p);
    p->on = c->stderr_tty && !c->quiet;
    p->what = what;
    p->total = total;
}

void progress_update(progress *p, unsigned long long done, unsigned long long count)
{
    if (!p->on) return;
    if (p->total) {
        unsigned pct = (unsigned)(done * 100 / p->total);
        if (pct > 100) pct = 100;
        int width = 30, fill = (int)(pct * (unsigned)width / 100);
        fprintf(stderr, "\r%s [%.*s%*s] %3u%%  %llu records", p->what, fill,
                "##############################", width - fill, "", pct, count);
    } else {
        fprintf(stderr, "\r%s  %llu records", p->what, count);
    }
    fflush(stderr);
    p->last_drawn = count;
}

void progress_end(progress *p)
{
    if (p->on) fputs("\n", stderr);
    p->on = false;
}
