/*
 * store_config.c — from a state component to what ss_open takes, the same way in statestored
 * and the CLI: the runtime settings daprd reads from a component (keyPrefix, actorStateStore)
 * are taken out of the driver's properties, and daprd's keyPrefix rule gives the key prefix.
 */
#include "components.h"

#include <statestore/driver.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define KEY_PREFIX_PROP      "keyPrefix"
#define KEY_PREFIX_SEPARATOR "||"

/* daprd reads these from the component itself; a driver never gets them. */
static const char *const RUNTIME_PROPS[] = {KEY_PREFIX_PROP, "actorStateStore"};

bool ss_component_runtime_prop(const char *name)
{
    for (size_t i = 0; i < sizeof RUNTIME_PROPS / sizeof RUNTIME_PROPS[0]; i++)
        if (strcasecmp(name, RUNTIME_PROPS[i]) == 0) return true;
    return false;
}

static char *join3(const char *a, const char *b, const char *c)
{
    size_t n = strlen(a) + strlen(b) + strlen(c) + 1;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s%s%s", a, b, c);
    return p;
}

/* daprd's keyPrefix rules (pkg/components/state/state_config.go). */
static ss_code key_prefix(const char *mode, const char *store, const char *app_id, char **out,
                          ss_error *err)
{
    *out = NULL;
    const char *base = NULL;
    char *owned = NULL;
    if (!mode || !*mode || strcasecmp(mode, "appid") == 0) {
        base = app_id;
    } else if (strcasecmp(mode, "none") == 0) {
        return SS_OK;
    } else if (strcasecmp(mode, "name") == 0) {
        base = store;
    } else if (strcasecmp(mode, "namespace") == 0) {
        const char *ns = getenv("NAMESPACE");
        if (ns && *ns && *app_id)
            base = owned = join3(ns, ".", app_id);
        else
            base = app_id;
        if (ns && *ns && *app_id && !owned) return ss_error_set(err, SS_NOMEM, "out of memory");
    } else {
        if (strstr(mode, KEY_PREFIX_SEPARATOR))
            return ss_error_set(err, SS_INVALID, "keyPrefix '%s' can't contain '||'", mode);
        base = mode;
    }
    if (!base || !*base) return SS_OK;
    *out = join3(base, KEY_PREFIX_SEPARATOR, "");
    free(owned);
    if (!*out) return ss_error_set(err, SS_NOMEM, "out of memory");
    return SS_OK;
}

ss_code ss_component_store_init(ss_component_store *out, const ss_component *c, const char *app_id,
                                ss_error *err)
{
    memset(out, 0, sizeof *out);
    out->props = calloc(c->property_count ? c->property_count : 1, sizeof *out->props);
    if (!out->props) return ss_error_set(err, SS_NOMEM, "out of memory");
    size_t n = 0;
    for (size_t i = 0; i < c->property_count; i++)
        if (!ss_component_runtime_prop(c->properties[i].name)) out->props[n++] = c->properties[i];
    if (app_id) {
        ss_code code = key_prefix(ss_component_prop(c, KEY_PREFIX_PROP), c->name, app_id,
                                  &out->key_prefix, err);
        if (code != SS_OK) {
            ss_component_store_dispose(out);
            return code;
        }
    }
    out->config.driver = c->driver;
    out->config.name = c->name;
    out->config.properties = n ? out->props : NULL;
    out->config.property_count = n;
    return SS_OK;
}

void ss_component_store_dispose(ss_component_store *s)
{
    if (!s) return;
    free(s->props);
    free(s->key_prefix);
    memset(s, 0, sizeof *s);
}
