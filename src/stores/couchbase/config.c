/*
 * config.c — the Couchbase bucket configuration parser (see couchbase_internal.h), on jansson.
 */
#include "couchbase_internal.h"

#include <jansson.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cb_config_free(cb_config *cfg)
{
    if (!cfg) return;
    free(cfg->servers);
    free(cfg->map);
    free(cfg);
}

static bool parse_server(const char *s, const char *this_host, cb_server *out)
{
    const char *colon = strrchr(s, ':');
    if (!colon || colon == s) return false;
    char *end = NULL;
    long port = strtol(colon + 1, &end, 10);
    if (end == colon + 1 || *end || port <= 0 || port > 65535) return false;
    size_t hl = (size_t)(colon - s);
    const char *host = s;
    if (hl == 5 && memcmp(s, "$HOST", 5) == 0) {
        host = this_host;
        hl = strlen(this_host);
    }
    /* [v6]:port */
    if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') {
        host++;
        hl -= 2;
    }
    if (hl == 0 || hl >= sizeof out->host) return false;
    memcpy(out->host, host, hl);
    out->host[hl] = 0;
    out->port = (int)port;
    return true;
}

cb_config *cb_config_parse(const char *json, size_t len, const char *this_host, char *why,
                           size_t whylen)
{
    json_error_t jerr;
    json_t *root = json_loadb(json, len, 0, &jerr);
    cb_config *cfg = NULL;
    const char *msg = NULL;
    if (!root || !json_is_object(root)) {
        snprintf(why, whylen, "cluster config is not a JSON object%s%s", root ? "" : ": ",
                 root ? "" : jerr.text);
        json_decref(root);
        return NULL;
    }
    json_t *m = json_object_get(root, "vBucketServerMap");
    json_t *list = m ? json_object_get(m, "serverList") : NULL;
    json_t *vbm = m ? json_object_get(m, "vBucketMap") : NULL;
    json_t *algo = m ? json_object_get(m, "hashAlgorithm") : NULL;
    json_t *rev = json_object_get(root, "rev");
    if (!json_is_object(m)) {
        msg = "no vBucketServerMap (not a couchbase bucket)";
        goto fail;
    }
    if (!json_is_array(list) || !json_is_array(vbm)) {
        msg = "vBucketServerMap without serverList or vBucketMap arrays";
        goto fail;
    }
    if (algo && (!json_is_string(algo) || strcmp(json_string_value(algo), "CRC") != 0)) {
        msg = "hashAlgorithm is not CRC";
        goto fail;
    }
    size_t ns = json_array_size(list), nvb = json_array_size(vbm);
    if (ns == 0 || ns > 4096 || nvb == 0 || nvb > 65536) {
        msg = "serverList or vBucketMap empty or too large";
        goto fail;
    }
    json_t *first = json_array_get(vbm, 0);
    size_t ncopies = json_is_array(first) ? json_array_size(first) : 0;
    if (ncopies == 0 || ncopies > 4) {
        msg = "vBucketMap entries are not arrays of 1 to 4 server indexes";
        goto fail;
    }
    cfg = calloc(1, sizeof *cfg);
    if (!cfg || !(cfg->servers = calloc(ns, sizeof *cfg->servers)) ||
        !(cfg->map = calloc(nvb * ncopies, sizeof *cfg->map))) {
        msg = "out of memory";
        goto fail;
    }
    cfg->nservers = ns;
    cfg->nvbuckets = nvb;
    cfg->ncopies = ncopies;
    cfg->rev = json_is_integer(rev) ? json_integer_value(rev) : 0;
    for (size_t i = 0; i < ns; i++) {
        json_t *s = json_array_get(list, i);
        if (!json_is_string(s) ||
            !parse_server(json_string_value(s), this_host, &cfg->servers[i])) {
            msg = "a serverList entry is not host:port";
            goto fail;
        }
    }
    for (size_t v = 0; v < nvb; v++) {
        json_t *e = json_array_get(vbm, v);
        if (!json_is_array(e) || json_array_size(e) != ncopies) {
            msg = "vBucketMap entries differ in length";
            goto fail;
        }
        for (size_t c = 0; c < ncopies; c++) {
            json_t *x = json_array_get(e, c);
            json_int_t idx = json_is_integer(x) ? json_integer_value(x) : -2;
            if (idx < -1 || idx >= (json_int_t)ns) {
                msg = "vBucketMap names a server outside serverList";
                goto fail;
            }
            cfg->map[v * ncopies + c] = (int16_t)idx;
        }
    }
    json_decref(root);
    return cfg;
fail:
    snprintf(why, whylen, "%s", msg);
    cb_config_free(cfg);
    json_decref(root);
    return NULL;
}
