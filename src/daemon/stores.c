/*
 * stores.c — the store table: one opened store per Dapr state component (or the embedded
 * SQLite default), with daprd's keyPrefix rule and component scopes.
 */
#include "daemon.h"

#ifdef SS_DAEMON_HAVE_COMPONENTS
#include "components/components.h"
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DEFAULT_STORE_NAME   "statestore"
#define KEY_PREFIX_PROP      "keyPrefix"
#define KEY_PREFIX_SEPARATOR "||"

void stores_free(dserver *s)
{
    for (size_t i = 0; i < s->nstores; i++) {
        dstore *st = &s->stores[i];
        ss_close(st->store);
        free(st->name);
        free(st->type);
        free(st->version);
        free(st->prefix);
    }
    free(s->stores);
    s->stores = NULL;
    s->nstores = 0;
}

static char *join3(const char *a, const char *b, const char *c)
{
    size_t n = strlen(a) + strlen(b) + strlen(c) + 1;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s%s%s", a, b, c);
    return p;
}

/* daprd's keyPrefix rules (pkg/components/state/state_config.go). */
static bool key_prefix(const char *mode, const char *store, const char *app_id, char **out,
                       char *err, size_t errlen)
{
    *out = NULL;
    const char *base = NULL;
    char *owned = NULL;
    if (!mode || !*mode || strcasecmp(mode, "appid") == 0) {
        base = app_id;
    } else if (strcasecmp(mode, "none") == 0) {
        return true;
    } else if (strcasecmp(mode, "name") == 0) {
        base = store;
    } else if (strcasecmp(mode, "namespace") == 0) {
        const char *ns = getenv("NAMESPACE");
        if (ns && *ns && *app_id)
            base = owned = join3(ns, ".", app_id);
        else
            base = app_id;
        if (ns && *ns && *app_id && !owned) return snprintf(err, errlen, "out of memory"), false;
    } else {
        if (strstr(mode, KEY_PREFIX_SEPARATOR)) {
            snprintf(err, errlen, "keyPrefix '%s' can't contain '||'", mode);
            return false;
        }
        base = mode;
    }
    if (!base || !*base) return true;
    *out = join3(base, KEY_PREFIX_SEPARATOR, "");
    free(owned);
    if (!*out) return snprintf(err, errlen, "out of memory"), false;
    return true;
}

/* Opens one store; `props` keep keyPrefix out (it is the daemon's, not the driver's). */
static bool open_store(dserver *s, const char *name, const char *driver, const char *version,
                       const ss_pair *props, size_t nprops, const char *app_id, const char *origin)
{
    for (size_t i = 0; i < s->nstores; i++)
        if (strcmp(s->stores[i].name, name) == 0) {
            dlog(SS_LOG_ERROR, "%s: state store \"%s\" is defined twice", origin, name);
            return false;
        }
    ss_pair *dp = calloc(nprops ? nprops : 1, sizeof *dp);
    dstore *arr = realloc(s->stores, (s->nstores + 1) * sizeof *arr);
    if (!dp || !arr) {
        free(dp);
        if (arr) s->stores = arr;
        dlog(SS_LOG_ERROR, "out of memory");
        return false;
    }
    s->stores = arr;
    const char *mode = NULL;
    size_t n = 0;
    for (size_t i = 0; i < nprops; i++) {
        if (strcasecmp(props[i].name, KEY_PREFIX_PROP) == 0)
            mode = props[i].value;
        else
            dp[n++] = props[i];
    }
    char err[256];
    dstore st = {0};
    if (!key_prefix(mode, name, app_id, &st.prefix, err, sizeof err)) {
        dlog(SS_LOG_ERROR, "%s: state store \"%s\": %s", origin, name, err);
        free(dp);
        return false;
    }
    ss_config cfg = {.driver = driver,
                     .name = name,
                     .properties = dp,
                     .property_count = n,
                     .log = lib_log,
                     .log_level = dlog_level};
    ss_error e;
    ss_code c = ss_open(&st.store, &cfg, &e);
    free(dp);
    if (c != SS_OK) {
        dlog(SS_LOG_ERROR, "%s: cannot open state store \"%s\" (%s): %s", origin, name, driver,
             e.message);
        free(st.prefix);
        return false;
    }
    st.name = strdup(name);
    st.type = strncmp(driver, "state.", 6) == 0 ? strdup(driver) : join3("state.", driver, "");
    st.version = strdup(version && *version ? version : "v1");
    if (!st.name || !st.type || !st.version) {
        ss_close(st.store);
        free(st.name);
        free(st.type);
        free(st.version);
        free(st.prefix);
        dlog(SS_LOG_ERROR, "out of memory");
        return false;
    }
    st.prefix_len = st.prefix ? strlen(st.prefix) : 0;
    ss_store_features(st.store, &st.features);
    s->stores[s->nstores++] = st;
    dlog(SS_LOG_INFO, "state store \"%s\" ready: driver %s, key prefix %s%s%s", name,
         ss_store_driver(st.store), st.prefix ? "\"" : "", st.prefix ? st.prefix : "none",
         st.prefix ? "\"" : "");
    return true;
}

bool load_stores(dserver *s, const options *o)
{
#ifdef SS_DAEMON_HAVE_COMPONENTS
    ss_component_list list = {0};
    for (size_t i = 0; i < o->ndirs; i++) {
        ss_error e;
        if (ss_components_load_dir(&list, o->dirs[i], &e) != SS_OK) {
            dlog(SS_LOG_ERROR, "loading components: %s", e.message);
            ss_component_list_free(&list);
            return false;
        }
    }
    for (size_t i = 0; i < list.count; i++) {
        const ss_component *c = &list.items[i];
        char origin[1024];
        snprintf(origin, sizeof origin, "%s:%d", c->file ? c->file : "?", c->line);
        if (c->scopes) {
            bool in = false;
            for (size_t j = 0; j < c->scope_count && !in; j++)
                in = strcmp(c->scopes[j], o->app_id) == 0;
            if (!in) {
                dlog(SS_LOG_INFO, "%s: state store \"%s\" skipped: app id \"%s\" not in its scopes",
                     origin, c->name, o->app_id);
                continue;
            }
        }
        if (!open_store(s, c->name, c->driver, c->version, c->properties, c->property_count,
                        o->app_id, origin)) {
            ss_component_list_free(&list);
            return false;
        }
    }
    ss_component_list_free(&list);
#else
    if (o->ndirs) {
        dlog(SS_LOG_ERROR, "this statestored was built without component file support");
        return false;
    }
#endif
    if (s->nstores == 0) {
        ss_pair p = {"connectionString", o->default_store_path};
        dlog(SS_LOG_INFO, "no state store component found: serving \"%s\" on SQLite file %s",
             DEFAULT_STORE_NAME, o->default_store_path);
        return open_store(s, DEFAULT_STORE_NAME, "sqlite", "v1", &p, 1, o->app_id, "default store");
    }
    return true;
}
