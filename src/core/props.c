/* props.c — a store's properties (validation, typed getters) and its log channel. */
#include "core/props.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/errors.h"
#include "core/util.h"

static const ss_property *declared(const ss_driver *d, const char *name)
{
    for (size_t i = 0; i < d->info.property_count; i++)
        if (strcasecmp(d->info.properties[i].name, name) == 0) return &d->info.properties[i];
    return NULL;
}

void ss_ctx_free(ss_ctx *ctx)
{
    if (!ctx) return;
    for (size_t i = 0; i < ctx->prop_count; i++) {
        free((char *)ctx->props[i].name);
        free((char *)ctx->props[i].value);
    }
    free(ctx->props);
    free(ctx->name);
    memset(ctx, 0, sizeof *ctx);
}

ss_code ss_ctx_init(ss_ctx *ctx, const ss_driver *driver, const ss_config *config, ss_error *err)
{
    memset(ctx, 0, sizeof *ctx);
    ctx->driver = driver;
    ctx->log = config->log;
    ctx->log_ctx = config->log_ctx;
    ctx->level = config->log_level;
    const char *name = config->name && *config->name ? config->name : driver->info.name;
    ctx->name = ss_strdup(name);
    if (!ctx->name) return ss_error_set(err, SS_NOMEM, "open: out of memory");

    if (config->property_count > 0 && !config->properties) {
        ss_error_set(err, SS_INVALID,
                     "store \"%s\" (%s): open: property_count is %zu but properties is NULL",
                     ctx->name, driver->info.name, config->property_count);
        goto fail;
    }
    if (config->property_count > 0) {
        ctx->props = calloc(config->property_count, sizeof *ctx->props);
        if (!ctx->props) {
            ss_error_set(err, SS_NOMEM, "open: out of memory");
            goto fail;
        }
    }
    for (size_t i = 0; i < config->property_count; i++) {
        const ss_pair *p = &config->properties[i];
        if (!p->name || !*p->name) {
            ss_error_set(err, SS_INVALID, "store \"%s\" (%s): open: property %zu has no name",
                         ctx->name, driver->info.name, i);
            goto fail;
        }
        for (size_t j = 0; j < i; j++) {
            if (strcasecmp(ctx->props[j].name, p->name) == 0) {
                ss_error_set(err, SS_INVALID,
                             "store \"%s\" (%s): open: property \"%s\" is given more than once",
                             ctx->name, driver->info.name, p->name);
                goto fail;
            }
        }
        ctx->props[i].name = ss_strdup(p->name);
        ctx->props[i].value = ss_strdup(p->value ? p->value : "");
        ctx->prop_count = i + 1;
        if (!ctx->props[i].name || !ctx->props[i].value) {
            ss_error_set(err, SS_NOMEM, "open: out of memory");
            goto fail;
        }
    }
    for (size_t i = 0; i < driver->info.property_count; i++) {
        const ss_property *d = &driver->info.properties[i];
        const char *v = ss_prop(ctx, d->name);
        if (d->required && (!v || !*v)) {
            ss_error_set(err, SS_INVALID,
                         "store \"%s\" (%s): open: missing required property \"%s\"", ctx->name,
                         driver->info.name, d->name);
            goto fail;
        }
    }
    for (size_t i = 0; i < ctx->prop_count; i++) {
        if (declared(driver, ctx->props[i].name)) continue;
        /* Dapr ignores unknown metadata too, but a typo deserves a word. */
        ss_log(ctx, SS_LOG_WARN, "unknown property \"%s\" (ignored)", ctx->props[i].name);
    }
    return SS_OK;
fail:
    ss_ctx_free(ctx);
    return err ? err->code : SS_INVALID;
}

const char *ss_ctx_name(const ss_ctx *ctx)
{
    return ctx ? ctx->name : NULL;
}

const char *ss_prop(const ss_ctx *ctx, const char *name)
{
    if (!ctx || !name) return NULL;
    for (size_t i = 0; i < ctx->prop_count; i++)
        if (strcasecmp(ctx->props[i].name, name) == 0) return ctx->props[i].value;
    if (ctx->driver) {
        const ss_property *d = declared(ctx->driver, name);
        if (d) return d->fallback;
    }
    return NULL;
}

static bool is_secret(const ss_ctx *ctx, const char *name)
{
    const ss_property *d = ctx && ctx->driver ? declared(ctx->driver, name) : NULL;
    return d && d->secret;
}

/* `property "x": value "v" <what>`, with the value left out for secrets. No store name: the
 * driver returns this from open, and the core's decoration adds it. */
static ss_code bad_value(const ss_ctx *ctx, const char *name, const char *value, ss_error *err,
                         const char *what)
{
    if (is_secret(ctx, name))
        return ss_error_set(err, SS_INVALID, "property \"%s\": the value %s", name, what);
    char shown[200];
    ss_escape_key(shown, sizeof shown, value, strlen(value));
    return ss_error_set(err, SS_INVALID, "property \"%s\": value \"%s\" %s", name, shown, what);
}

ss_code ss_prop_int(const ss_ctx *ctx, const char *name, int64_t min, int64_t max, int64_t *out,
                    ss_error *err)
{
    if (!ctx || !name || !out) return ss_error_set(err, SS_INVALID, "ss_prop_int: NULL argument");
    const char *v = ss_prop(ctx, name);
    if (!v || !*v) return SS_OK; /* absent: the caller's preset value stands */
    int64_t n;
    if (!ss_parse_int64(v, &n)) return bad_value(ctx, name, v, err, "is not an integer");
    if (n < min || n > max) {
        char what[120];
        snprintf(what, sizeof what, "is out of range %lld..%lld", (long long)min, (long long)max);
        return bad_value(ctx, name, v, err, what);
    }
    *out = n;
    return SS_OK;
}

ss_code ss_prop_bool(const ss_ctx *ctx, const char *name, bool *out, ss_error *err)
{
    if (!ctx || !name || !out) return ss_error_set(err, SS_INVALID, "ss_prop_bool: NULL argument");
    const char *v = ss_prop(ctx, name);
    if (!v || !*v) return SS_OK;
    static const char *const yes[] = {"true", "t", "1", "yes", "y", "on"};
    static const char *const no[] = {"false", "f", "0", "no", "n", "off"};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
        if (strcasecmp(v, yes[i]) == 0) {
            *out = true;
            return SS_OK;
        }
        if (strcasecmp(v, no[i]) == 0) {
            *out = false;
            return SS_OK;
        }
    }
    return bad_value(ctx, name, v, err, "is not a boolean (true/false)");
}

/* Go's time.ParseDuration grammar, in milliseconds; bare numbers are in unit_ms. */
static bool parse_duration(const char *s, int64_t unit_ms, int64_t *out)
{
    const char *p = s;
    bool neg = false;
    if (*p == '+' || *p == '-') neg = *p++ == '-';
    if (!*p) return false;
    double total = 0;
    bool bare_allowed = true;
    while (*p) {
        if (!((*p >= '0' && *p <= '9') || *p == '.')) return false;
        char *end;
        double n = strtod(p, &end);
        if (end == p || !isfinite(n)) return false;
        for (const char *q = p; q < end; q++)
            if (!((*q >= '0' && *q <= '9') || *q == '.')) return false; /* no exponents */
        p = end;
        double unit;
        if (!*p) {
            if (!bare_allowed) return false;
            unit = (double)unit_ms;
        } else if (strncmp(p, "ns", 2) == 0) {
            unit = 1e-6, p += 2;
        } else if (strncmp(p, "us", 2) == 0) {
            unit = 1e-3, p += 2;
        } else if (strncmp(p, "\xc2\xb5s", 3) == 0) { /* µs */
            unit = 1e-3, p += 3;
        } else if (strncmp(p, "ms", 2) == 0) {
            unit = 1, p += 2;
        } else if (*p == 's') {
            unit = 1000, p += 1;
        } else if (*p == 'm') {
            unit = 60000, p += 1;
        } else if (*p == 'h') {
            unit = 3600000, p += 1;
        } else {
            return false;
        }
        bare_allowed = false;
        total += n * unit;
        if (total > 9.2e18) return false;
    }
    int64_t ms = (int64_t)total;
    *out = neg ? -ms : ms;
    return true;
}

ss_code ss_prop_duration_ms(const ss_ctx *ctx, const char *name, int64_t unit_ms, int64_t *out,
                            ss_error *err)
{
    if (!ctx || !name || !out)
        return ss_error_set(err, SS_INVALID, "ss_prop_duration_ms: NULL argument");
    const char *v = ss_prop(ctx, name);
    if (!v || !*v) return SS_OK;
    if (unit_ms <= 0) unit_ms = 1;
    int64_t ms;
    if (!parse_duration(v, unit_ms, &ms))
        return bad_value(
            ctx, name, v, err,
            "is not a duration (e.g. \"1500ms\", \"5s\", \"1m30s\", \"2h\" or a number)");
    *out = ms;
    return SS_OK;
}

void ss_mask_secrets(const ss_ctx *ctx, char *msg, size_t msgsize)
{
    (void)msgsize;
    if (!ctx || !ctx->driver || !msg) return;
    const ss_driver_info *info = &ctx->driver->info;
    for (size_t p = 0; p < info->property_count; p++) {
        if (!info->properties[p].secret) continue;
        const char *secret = ss_prop(ctx, info->properties[p].name);
        size_t slen = secret ? strlen(secret) : 0;
        /* Masking one- or two-character values would shred ordinary text and hide nothing. */
        if (slen < 3) continue;
        /* "***" is never longer than a masked value, so the text only shrinks. */
        char *from = msg;
        char *hit;
        while ((hit = strstr(from, secret)) != NULL) {
            size_t tail = strlen(hit + slen);
            memmove(hit + 3, hit + slen, tail + 1);
            memcpy(hit, "***", 3);
            from = hit + 3;
        }
    }
}

/* ---- logging ---- */

void ss_ctx_log(const ss_ctx *ctx, ss_log_level level, const char *message)
{
    if (!ctx) return;
    /* Warnings and errors are always delivered (a zeroed config must not hide "unknown
     * property"); info and debug only when asked for. A callback can still drop them. */
    ss_log_level max = ctx->level > SS_LOG_WARN ? ctx->level : SS_LOG_WARN;
    if (level > max) return;
    if (ctx->log) {
        ctx->log(ctx->log_ctx, level, message);
        return;
    }
    fprintf(stderr, "statestore: %s\n", message);
}

void ss_log(const ss_ctx *ctx, ss_log_level level, const char *fmt, ...)
{
    if (!ctx || !fmt) return;
    char body[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(body, sizeof body, fmt, ap);
    va_end(ap);
    char msg[1200];
    snprintf(msg, sizeof msg, "store \"%s\" (%s): %s", ctx->name ? ctx->name : "?",
             ctx->driver ? ctx->driver->info.name : "?", body);
    ss_mask_secrets(ctx, msg, sizeof msg);
    ss_ctx_log(ctx, level, msg);
}
