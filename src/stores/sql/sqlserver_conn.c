/*
 * ADO connection strings for the SQL Server driver. Written by hand because FreeTDS parses no
 * ADO strings (its dblib takes each setting through its own call) and Debian has no library
 * that does.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "stores/sql/sqlserver_conn.h"

void ss_sqlserver_conn_free(ss_sqlserver_conn *c)
{
    free(c->host);
    free(c->instance);
    free(c->user);
    free(c->password);
    free(c->database);
    free(c->app_name);
    memset(c, 0, sizeof *c);
}

/* Key synonyms ADO and go-mssqldb accept, mapped to one name each. */
static const char *const ssc_keys[][2] = {
    {"server", "server"},
    {"data source", "server"},
    {"address", "server"},
    {"addr", "server"},
    {"network address", "server"},
    {"port", "port"},
    {"user id", "user"},
    {"uid", "user"},
    {"user", "user"},
    {"password", "password"},
    {"pwd", "password"},
    {"database", "database"},
    {"initial catalog", "database"},
    {"app name", "app"},
    {"application name", "app"},
    {"connection timeout", "timeout"},
    {"connect timeout", "timeout"},
    {"dial timeout", "timeout"},
    {"encrypt", "encrypt"},
    {"trustservercertificate", "trust"},
};

static char *ssc_dup(const char *p, size_t n)
{
    char *s = malloc(n + 1);
    if (s) {
        memcpy(s, p, n);
        s[n] = '\0';
    }
    return s;
}

static bool ssc_bool(const char *v, bool *out)
{
    bool yes = !strcasecmp(v, "true") || !strcasecmp(v, "yes") || !strcmp(v, "1");
    bool no = !strcasecmp(v, "false") || !strcasecmp(v, "no") || !strcmp(v, "0");
    if (yes || no) *out = yes;
    return yes || no;
}

static bool ssc_uint(const char *v, unsigned long max, unsigned long *out)
{
    char *end = NULL;
    if (!isdigit((unsigned char)v[0])) return false;
    unsigned long n = strtoul(v, &end, 10);
    if (*end || n > max) return false;
    *out = n;
    return true;
}

/* Applies one pair; key is already mapped to its canonical name. */
static ss_code ssc_apply(ss_sqlserver_conn *c, const char *key, char *val, ss_error *err)
{
    unsigned long n = 0;
    bool b = false;
    char **slot = NULL;
    if (!strcmp(key, "server")) {
        char *comma = strchr(val, ','), *slash = strchr(val, '\\');
        if (comma) {
            *comma = '\0';
            const char *port = comma + 1;
            while (*port == ' ') port++;
            if (!ssc_uint(port, 65535, &n) || n == 0)
                return ss_error_set(err, SS_INVALID,
                                    "connectionString: server has a port that is not 1-65535");
            c->port = (unsigned)n;
        }
        if (slash) {
            *slash = '\0';
            free(c->instance);
            if (!(c->instance = strdup(slash + 1))) return SS_NOMEM;
        }
        for (size_t l = strlen(val); l > 0 && val[l - 1] == ' '; l--) val[l - 1] = '\0';
        slot = &c->host;
    } else if (!strcmp(key, "port")) {
        if (!ssc_uint(val, 65535, &n) || n == 0)
            return ss_error_set(err, SS_INVALID, "connectionString: port is not 1-65535");
        c->port = (unsigned)n;
        return SS_OK;
    } else if (!strcmp(key, "timeout")) {
        if (!ssc_uint(val, 86400, &n))
            return ss_error_set(err, SS_INVALID,
                                "connectionString: connection timeout is not a number of seconds");
        c->connect_timeout_ms = (int64_t)n * 1000;
        return SS_OK;
    } else if (!strcmp(key, "encrypt")) {
        if (!strcasecmp(val, "strict") || !strcasecmp(val, "mandatory"))
            c->encrypt = 1;
        else if (!strcasecmp(val, "disable") || !strcasecmp(val, "optional"))
            c->encrypt = 0;
        else if (ssc_bool(val, &b))
            c->encrypt = b;
        else
            return ss_error_set(err, SS_INVALID,
                                "connectionString: encrypt is not true, false, strict or disable");
        return SS_OK;
    } else if (!strcmp(key, "trust")) {
        if (!ssc_bool(val, &c->trust_server_certificate))
            return ss_error_set(err, SS_INVALID,
                                "connectionString: TrustServerCertificate is not true or false");
        return SS_OK;
    } else if (!strcmp(key, "user")) {
        slot = &c->user;
    } else if (!strcmp(key, "password")) {
        slot = &c->password;
    } else if (!strcmp(key, "database")) {
        slot = &c->database;
    } else {
        slot = &c->app_name;
    }
    free(*slot);
    *slot = strdup(val);
    return *slot ? SS_OK : SS_NOMEM;
}

/* Parses into c; on failure c may hold parts, which the caller frees. */
static ss_code ssc_parse(const char *s, ss_sqlserver_conn *c, ss_error *err)
{
    ss_code code = SS_OK;
    const char *p = s ? s : "";
    while (*p && code == SS_OK) {
        while (*p == ';' || isspace((unsigned char)*p)) p++;
        if (!*p) break;
        const char *eq = strchr(p, '=');
        const char *semi = strchr(p, ';');
        if (!eq || (semi && semi < eq)) {
            code = ss_error_set(err, SS_INVALID, "connectionString: a part has no \"=\"");
            break;
        }
        const char *ke = eq;
        while (ke > p && isspace((unsigned char)ke[-1])) ke--;
        char key[40];
        size_t kl = (size_t)(ke - p);
        if (kl == 0 || kl >= sizeof key) {
            code = ss_error_set(err, SS_INVALID, "connectionString: a key is empty or too long");
            break;
        }
        memcpy(key, p, kl);
        key[kl] = '\0';
        const char *canon = NULL;
        for (size_t i = 0; i < sizeof ssc_keys / sizeof ssc_keys[0] && !canon; i++)
            if (!strcasecmp(key, ssc_keys[i][0])) canon = ssc_keys[i][1];
        if (!canon) {
            code = ss_error_set(err, SS_INVALID, "connectionString: unknown key \"%s\"", key);
            break;
        }
        /* The value: quoted ("…" or '…', the quote doubled inside) or up to the next ';'. */
        const char *v = eq + 1;
        while (*v == ' ' || *v == '\t') v++;
        char *val = NULL;
        if (*v == '"' || *v == '\'') {
            char q = *v++;
            size_t cap = strlen(v) + 1, n = 0;
            val = malloc(cap);
            if (!val) return ss_error_set(err, SS_NOMEM, "out of memory");
            for (;;) {
                if (!*v) {
                    free(val);
                    return ss_error_set(err, SS_INVALID,
                                        "connectionString: the value of %s has no closing quote",
                                        key);
                }
                if (*v == q && v[1] == q) {
                    val[n++] = q;
                    v += 2;
                } else if (*v == q) {
                    v++;
                    break;
                } else {
                    val[n++] = *v++;
                }
            }
            val[n] = '\0';
            while (*v == ' ' || *v == '\t') v++;
            if (*v && *v != ';') {
                free(val);
                return ss_error_set(err, SS_INVALID,
                                    "connectionString: text after the quoted value of %s", key);
            }
            p = v;
        } else {
            const char *end = strchr(v, ';');
            if (!end) end = v + strlen(v);
            const char *ve = end;
            while (ve > v && isspace((unsigned char)ve[-1])) ve--;
            val = ssc_dup(v, (size_t)(ve - v));
            if (!val) return ss_error_set(err, SS_NOMEM, "out of memory");
            p = end;
        }
        code = ssc_apply(c, canon, val, err);
        if (code == SS_NOMEM) ss_error_set(err, SS_NOMEM, "out of memory");
        free(val);
    }
    if (code == SS_OK && !c->host && !(c->host = strdup("localhost")))
        code = ss_error_set(err, SS_NOMEM, "out of memory");
    if (code == SS_OK && c->host && !c->host[0])
        code = ss_error_set(err, SS_INVALID, "connectionString: server is empty");
    return code;
}

ss_code ss_sqlserver_conn_parse(const char *s, ss_sqlserver_conn *c, ss_error *err)
{
    memset(c, 0, sizeof *c);
    c->encrypt = -1;
    ss_code code = ssc_parse(s, c, err);
    if (code != SS_OK) ss_sqlserver_conn_free(c);
    return code;
}

bool ss_sqlserver_transient(long number)
{
    /* 1205 deadlock victim, 1222 lock request timeout; the rest are Azure SQL's "transient
     * fault error codes" (database unavailable, service busy, throttled, failover). */
    static const long transient[] = {1205,  1222,  4060,  4221,  10928, 10929,
                                     40197, 40501, 40613, 49918, 49919, 49920};
    for (size_t i = 0; i < sizeof transient / sizeof transient[0]; i++)
        if (transient[i] == number) return true;
    return false;
}
