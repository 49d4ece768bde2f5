/* mysql_dsn.c — see mysql_dsn.h. */
#include "stores/sql/mysql_dsn.h"
#include "support/pct.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

void ss_mysql_dsn_free(ss_mysql_dsn *d)
{
    free(d->user);
    free(d->pass);
    free(d->host);
    free(d->socket);
    free(d->dbname);
    memset(d, 0, sizeof *d);
}

/* Go durations ("5s", "1m30s", "500ms"); -1 when malformed. */
static int64_t my_go_duration_ms(const char *s)
{
    int64_t total = 0;
    if (!*s) return -1;
    while (*s) {
        char *end;
        errno = 0;
        double v = strtod(s, &end);
        if (end == s || errno) return -1;
        s = end;
        double unit;
        if (strncmp(s, "ms", 2) == 0)
            unit = 1, s += 2;
        else if (*s == 's')
            unit = 1000, s++;
        else if (*s == 'm')
            unit = 60000, s++;
        else if (*s == 'h')
            unit = 3600000, s++;
        else
            return -1;
        total += (int64_t)(v * unit);
    }
    return total;
}

/* Parses the DSN. Messages never quote the DSN (it may carry the password). */
ss_code ss_mysql_dsn_parse(const char *s, ss_mysql_dsn *d, ss_error *err)
{
    memset(d, 0, sizeof *d);
    const char *close = strrchr(s, ')');
    const char *at_search_end = close ? close : s + strlen(s);
    const char *slash = close ? strchr(close, '/') : NULL;
    if (!close) {
        /* no address: the first '/' after the credentials */
        const char *at = NULL;
        for (const char *p = s; *p; p++)
            if (*p == '@') at = p;
        slash = strchr(at ? at : s, '/');
    }
    if (!slash)
        return ss_error_set(err, SS_INVALID,
                            "property connectionString: expected Go DSN form "
                            "\"user:password@tcp(host:port)/dbname?params\" (no '/' found)");
    /* credentials: everything before the last '@' preceding the address */
    const char *at = NULL;
    for (const char *p = s; p < at_search_end && p < slash; p++)
        if (*p == '@') at = p;
    const char *addr_start = s;
    if (at) {
        const char *colon = memchr(s, ':', (size_t)(at - s));
        d->user = strndup(s, (size_t)((colon ? colon : at) - s));
        d->pass = colon ? strndup(colon + 1, (size_t)(at - colon - 1)) : NULL;
        addr_start = at + 1;
        if (!d->user || (colon && !d->pass)) goto nomem;
    }
    /* net(addr) */
    size_t alen = (size_t)(slash - addr_start);
    d->port = 3306;
    if (alen > 0) {
        const char *paren = memchr(addr_start, '(', alen);
        size_t netlen = paren ? (size_t)(paren - addr_start) : alen;
        char net[16];
        if (netlen >= sizeof net) goto badnet;
        memcpy(net, addr_start, netlen);
        net[netlen] = '\0';
        const char *addr = paren ? paren + 1 : NULL;
        size_t addrlen = paren ? (size_t)(slash - 1 - addr) : 0;
        if (paren && slash[-1] != ')') goto badnet;
        if (strcmp(net, "unix") == 0) {
            if (!addr || addrlen == 0) goto badnet;
            d->socket = strndup(addr, addrlen);
            if (!d->socket) goto nomem;
        } else if (strcmp(net, "tcp") == 0 || strcmp(net, "tcp6") == 0 || netlen == 0) {
            if (addr && addrlen > 0) {
                const char *colon = NULL;
                const char *hs = addr, *he = addr + addrlen;
                if (*addr == '[') {
                    const char *rb = memchr(addr, ']', addrlen);
                    if (!rb) goto badnet;
                    hs = addr + 1;
                    he = rb;
                    colon = (rb + 1 < addr + addrlen && rb[1] == ':') ? rb + 1 : NULL;
                } else {
                    colon = memchr(addr, ':', addrlen);
                    if (colon) he = colon;
                }
                d->host = strndup(hs, (size_t)(he - hs));
                if (!d->host) goto nomem;
                if (colon) {
                    char *end;
                    long port = strtol(colon + 1, &end, 10);
                    if (end != addr + addrlen || port <= 0 || port > 65535) goto badnet;
                    d->port = (unsigned)port;
                }
            }
        } else {
            goto badnet;
        }
    }
    if (!d->host && !d->socket) d->host = strdup("127.0.0.1");
    if (!d->host && !d->socket) goto nomem;

    /* dbname?params */
    const char *q = strchr(slash + 1, '?');
    size_t dblen = q ? (size_t)(q - slash - 1) : strlen(slash + 1);
    d->dbname = ss_pct_decode_alloc(slash + 1, dblen, SS_PCT_PLUS | SS_PCT_LENIENT, NULL);
    if (!d->dbname) goto nomem;
    for (const char *p = q ? q + 1 : NULL; p && *p;) {
        const char *amp = strchr(p, '&');
        size_t n = amp ? (size_t)(amp - p) : strlen(p);
        const char *eq = memchr(p, '=', n);
        if (eq) {
            size_t kl = (size_t)(eq - p);
            char *val = ss_pct_decode_alloc(eq + 1, n - kl - 1, SS_PCT_PLUS | SS_PCT_LENIENT, NULL);
            if (!val) goto nomem;
            bool ok = true;
            if (kl == 3 && strncmp(p, "tls", 3) == 0) {
                if (strcmp(val, "true") == 0 || strcmp(val, "custom") == 0)
                    d->tls = 1;
                else if (strcmp(val, "skip-verify") == 0)
                    d->tls = 2;
                else if (strcmp(val, "preferred") == 0)
                    d->tls = 3;
                else if (strcmp(val, "false") == 0)
                    d->tls = 0;
                else
                    ok = false;
            } else if (kl == 7 && strncmp(p, "timeout", 7) == 0) {
                ok = (d->connect_timeout_ms = my_go_duration_ms(val)) >= 0;
            } else if (kl == 11 && strncmp(p, "readTimeout", 11) == 0) {
                ok = (d->read_timeout_ms = my_go_duration_ms(val)) >= 0;
            } else if (kl == 12 && strncmp(p, "writeTimeout", 12) == 0) {
                ok = (d->write_timeout_ms = my_go_duration_ms(val)) >= 0;
            }
            /* parseTime, loc, charset, allowNativePasswords ... change nothing here */
            if (!ok) {
                ss_code rc = ss_error_set(err, SS_INVALID,
                                          "property connectionString: bad value for DSN "
                                          "parameter %.*s",
                                          (int)kl, p);
                free(val);
                ss_mysql_dsn_free(d);
                return rc;
            }
            free(val);
        }
        p = amp ? amp + 1 : NULL;
    }
    return SS_OK;
badnet:
    ss_mysql_dsn_free(d);
    return ss_error_set(err, SS_INVALID,
                        "property connectionString: the address must be tcp(host:port) or "
                        "unix(/path/to/socket)");
nomem:
    ss_mysql_dsn_free(d);
    return ss_error_set(err, SS_NOMEM, "out of memory");
}
