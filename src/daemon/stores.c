/*
 * stores.c — the store table: one opened store per Dapr state component (or the embedded
 * SQLite default) with its key prefix (src/components/store_config.c), and component scopes.
 */
#include "daemon.h"

#include "components/components.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DEFAULT_STORE_NAME "statestore"

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

/* Opens one store: the driver gets the component's properties without the runtime settings
 * (keyPrefix, actorStateStore), and the key prefix is daprd's rule for --app-id. */
static bool open_store(dserver *s, const ss_component *c, const char *app_id, const char *origin)
{
    for (size_t i = 0; i < s->nstores; i++)
        if (strcmp(s->stores[i].name, c->name) == 0) {
            dlog(SS_LOG_ERROR, "%s: state store \"%s\" is defined twice", origin, c->name);
            return false;
        }
    dstore *arr = realloc(s->stores, (s->nstores + 1) * sizeof *arr);
    if (!arr) {
        dlog(SS_LOG_ERROR, "out of memory");
        return false;
    }
    s->stores = arr;
    ss_component_store cs;
    ss_error e;
    if (ss_component_store_init(&cs, c, app_id, &e) != SS_OK) {
        dlog(SS_LOG_ERROR, "%s: state store \"%s\": %s", origin, c->name, e.message);
        return false;
    }
    cs.config.log = lib_log;
    cs.config.log_level = dlog_level;
    dstore st = {.prefix = cs.key_prefix};
    cs.key_prefix = NULL; /* now the store table's */
    ss_code code = ss_open(&st.store, &cs.config, &e);
    ss_component_store_dispose(&cs);
    if (code != SS_OK) {
        dlog(SS_LOG_ERROR, "%s: cannot open state store \"%s\" (%s): %s", origin, c->name,
             c->driver, e.message);
        free(st.prefix);
        return false;
    }
    const char *version = c->version;
    st.name = strdup(c->name);
    if (strncmp(c->driver, "state.", 6) == 0) {
        st.type = strdup(c->driver);
    } else if ((st.type = malloc(strlen(c->driver) + 7)) != NULL) {
        memcpy(st.type, "state.", 6);
        strcpy(st.type + 6, c->driver);
    }
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
    dlog(SS_LOG_INFO, "state store \"%s\" ready: driver %s, key prefix %s%s%s", c->name,
         ss_store_driver(st.store), st.prefix ? "\"" : "", st.prefix ? st.prefix : "none",
         st.prefix ? "\"" : "");
    return true;
}

bool load_stores(dserver *s, const options *o)
{
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
        if (!open_store(s, c, o->app_id, origin)) {
            ss_component_list_free(&list);
            return false;
        }
    }
    ss_component_list_free(&list);
    if (s->nstores == 0) {
        ss_pair p = {"connectionString", o->default_store_path};
        char name[] = DEFAULT_STORE_NAME, driver[] = "sqlite", version[] = "v1";
        ss_component def = {.name = name,
                            .driver = driver,
                            .version = version,
                            .properties = &p,
                            .property_count = 1};
        dlog(SS_LOG_INFO, "no state store component found: serving \"%s\" on SQLite file %s",
             DEFAULT_STORE_NAME, o->default_store_path);
        return open_store(s, &def, o->app_id, "default store");
    }
    return true;
}
