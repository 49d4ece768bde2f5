/*
 * components.c — Dapr component YAML files (see components.h and docs/COMPONENTS.md).
 *
 * libyaml's event parser feeds a small tree builder of our own rather than libyaml's document
 * loader: that lets us bound nesting depth, scalar size and node count before anything big is
 * allocated, and keep the line of every node for error messages.
 */
#include "components.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <yaml.h>

/* Limits that keep hostile files from costing more than a few MiB of memory. */
#define MAX_FILE_BYTES   (4u << 20)
#define MAX_SCALAR_BYTES (1u << 20)
#define MAX_DEPTH        64
#define MAX_NODES        200000

#define API_VERSION      "dapr.io/v1alpha1"

typedef enum node_type { N_SCALAR, N_SEQ, N_MAP, N_ALIAS } node_type;

typedef struct node {
    node_type type;
    int line;   /* 1-based */
    bool plain; /* a plain (unquoted) scalar: only these can mean null */
    char *text; /* scalar text (NUL-terminated), else NULL */
    size_t len;
    struct node **kids; /* sequence items, or map key, value, key, value ... */
    size_t nkids;
    size_t cap;
} node;

static void node_free(node *n)
{
    if (!n) return;
    for (size_t i = 0; i < n->nkids; i++) node_free(n->kids[i]);
    free(n->kids);
    free(n->text);
    free(n);
}

static ss_code set_err(ss_error *err, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static ss_code set_err(ss_error *err, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
        err->code = SS_INVALID;
        err->retryable = false;
    }
    return SS_INVALID;
}

static ss_code set_nomem(ss_error *err, const char *origin)
{
    if (err) {
        snprintf(err->message, sizeof err->message, "%s: out of memory", origin);
        err->code = SS_NOMEM;
        err->retryable = false;
    }
    return SS_NOMEM;
}

static char *dup_n(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (!p) return NULL;
    if (n) memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

static char *dup_s(const char *s)
{
    return s ? dup_n(s, strlen(s)) : NULL;
}

static bool add_kid(node *parent, node *kid)
{
    if (parent->nkids == parent->cap) {
        size_t cap = parent->cap ? parent->cap * 2 : 4;
        node **k = realloc(parent->kids, cap * sizeof *k);
        if (!k) return false;
        parent->kids = k;
        parent->cap = cap;
    }
    parent->kids[parent->nkids++] = kid;
    return true;
}

/* ------------------------------------------------------------------------------------------ */
/* Tree building                                                                               */
/* ------------------------------------------------------------------------------------------ */

typedef struct builder {
    const char *origin;
    ss_error *err;
    node *stack[MAX_DEPTH + 1];
    size_t depth;
    node *root;
    size_t nodes;
} builder;

static void builder_reset(builder *b)
{
    /* stack[0..depth) are all reachable from the root, so freeing the root frees them. */
    node_free(b->root);
    b->root = NULL;
    b->depth = 0;
    b->nodes = 0;
}

/* Attaches a finished or opened node to its parent (or makes it the root). */
static ss_code builder_attach(builder *b, node *n)
{
    int line = n->line;
    if (++b->nodes > MAX_NODES) {
        node_free(n);
        return set_err(b->err, "%s:%d: document has more than %d nodes", b->origin, line,
                       MAX_NODES);
    }
    if (b->depth == 0) {
        if (b->root) { /* a second root is impossible with libyaml; be safe anyway */
            node_free(n);
            return set_err(b->err, "%s:%d: unexpected second document root", b->origin, line);
        }
        b->root = n;
        return SS_OK;
    }
    if (!add_kid(b->stack[b->depth - 1], n)) {
        node_free(n);
        return set_nomem(b->err, b->origin);
    }
    return SS_OK;
}

static ss_code builder_event(builder *b, const yaml_event_t *ev)
{
    int line = (int)ev->start_mark.line + 1;
    node *n;
    ss_code rc;
    switch (ev->type) {
    case YAML_SCALAR_EVENT:
        if (ev->data.scalar.length > MAX_SCALAR_BYTES)
            return set_err(b->err, "%s:%d: scalar of %zu bytes is larger than the %u-byte limit",
                           b->origin, line, (size_t)ev->data.scalar.length, MAX_SCALAR_BYTES);
        n = calloc(1, sizeof *n);
        if (!n) return set_nomem(b->err, b->origin);
        n->type = N_SCALAR;
        n->line = line;
        n->plain =
            ev->data.scalar.plain_implicit && ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
        n->len = ev->data.scalar.length;
        n->text = dup_n((const char *)ev->data.scalar.value, n->len);
        if (!n->text) {
            free(n);
            return set_nomem(b->err, b->origin);
        }
        return builder_attach(b, n);
    case YAML_ALIAS_EVENT:
        n = calloc(1, sizeof *n);
        if (!n) return set_nomem(b->err, b->origin);
        n->type = N_ALIAS;
        n->line = line;
        return builder_attach(b, n);
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT:
        if (b->depth >= MAX_DEPTH)
            return set_err(b->err, "%s:%d: nesting deeper than %d levels", b->origin, line,
                           MAX_DEPTH);
        n = calloc(1, sizeof *n);
        if (!n) return set_nomem(b->err, b->origin);
        n->type = ev->type == YAML_SEQUENCE_START_EVENT ? N_SEQ : N_MAP;
        n->line = line;
        rc = builder_attach(b, n);
        if (rc != SS_OK) return rc;
        b->stack[b->depth++] = n;
        return SS_OK;
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT:
        if (b->depth > 0) b->depth--;
        return SS_OK;
    default:
        return SS_OK;
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Reading the tree                                                                            */
/* ------------------------------------------------------------------------------------------ */

static bool is_null(const node *n)
{
    if (!n) return true;
    if (n->type != N_SCALAR || !n->plain) return false;
    return n->len == 0 || strcmp(n->text, "~") == 0 || strcmp(n->text, "null") == 0 ||
           strcmp(n->text, "Null") == 0 || strcmp(n->text, "NULL") == 0;
}

static const char *type_name(const node *n)
{
    switch (n->type) {
    case N_SCALAR:
        return "a scalar";
    case N_SEQ:
        return "a sequence";
    case N_MAP:
        return "a mapping";
    case N_ALIAS:
        return "an alias";
    }
    return "?";
}

/*
 * Finds `key` in a mapping. Field names are matched case-insensitively because Dapr decodes
 * component files through Go's encoding/json, which does so. Two keys that match are an error.
 */
static ss_code map_get(const node **out, const node *map, const char *key, const char *origin,
                       const char *path, ss_error *err)
{
    *out = NULL;
    for (size_t i = 0; i + 1 < map->nkids; i += 2) {
        const node *k = map->kids[i];
        if (k->type != N_SCALAR || strcasecmp(k->text, key) != 0) continue;
        if (*out)
            return set_err(err, "%s:%d: %s%s%s: duplicate key", origin, k->line, path,
                           *path ? "." : "", key);
        *out = map->kids[i + 1];
    }
    return SS_OK;
}

/* Checks a mapping's keys are scalars (a complex key in a component file is a mistake). */
static ss_code check_map(const node *map, const char *origin, const char *path, ss_error *err)
{
    for (size_t i = 0; i + 1 < map->nkids; i += 2) {
        const node *k = map->kids[i];
        if (k->type != N_SCALAR)
            return set_err(err, "%s:%d: %s: mapping key is %s, expected a string", origin, k->line,
                           *path ? path : "document", type_name(k));
    }
    return SS_OK;
}

/*
 * A scalar field. `required`: missing or null is an error. *out is NULL when absent (not
 * required) and points into the tree otherwise.
 */
static ss_code get_scalar(const char **out, const node *map, const char *key, bool required,
                          bool nonempty, const char *origin, const char *path, ss_error *err)
{
    const node *v;
    *out = NULL;
    ss_code rc = map_get(&v, map, key, origin, path, err);
    if (rc != SS_OK) return rc;
    const char *dot = *path ? "." : "";
    if (is_null(v)) {
        if (required)
            return set_err(err, "%s:%d: %s: missing \"%s\"", origin, v ? v->line : map->line,
                           *path ? path : "document", key);
        return SS_OK;
    }
    if (v->type != N_SCALAR)
        return set_err(err, "%s:%d: %s%s%s: expected a string, found %s", origin, v->line, path,
                       dot, key, type_name(v));
    if (nonempty && v->len == 0)
        return set_err(err, "%s:%d: %s%s%s: must not be empty", origin, v->line, path, dot, key);
    if (strlen(v->text) != v->len)
        return set_err(err, "%s:%d: %s%s%s: contains a NUL character", origin, v->line, path, dot,
                       key);
    *out = v->text;
    return SS_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* Components                                                                                  */
/* ------------------------------------------------------------------------------------------ */

static void component_clear(ss_component *c)
{
    free(c->name);
    free(c->driver);
    free(c->version);
    free(c->file);
    for (size_t i = 0; i < c->property_count; i++) {
        free((char *)c->properties[i].name);
        free((char *)c->properties[i].value);
    }
    free(c->properties);
    for (size_t i = 0; i < c->scope_count; i++) free(c->scopes[i]);
    free(c->scopes);
    memset(c, 0, sizeof *c);
}

void ss_component_list_free(ss_component_list *list)
{
    if (!list) return;
    for (size_t i = 0; i < list->count; i++) component_clear(&list->items[i]);
    free(list->items);
    list->items = NULL;
    list->count = 0;
}

const char *ss_component_prop(const ss_component *c, const char *name)
{
    if (!c || !name) return NULL;
    for (size_t i = 0; i < c->property_count; i++)
        if (strcasecmp(c->properties[i].name, name) == 0) return c->properties[i].value;
    return NULL;
}

static bool list_push(ss_component_list *list, ss_component *c)
{
    ss_component *items = realloc(list->items, (list->count + 1) * sizeof *items);
    if (!items) return false;
    list->items = items;
    list->items[list->count++] = *c;
    memset(c, 0, sizeof *c);
    return true;
}

/*
 * Secrets come from environment variables, following Dapr's local environment secret store
 * (secretstores.local.env): the secret named N is the variable N and holds one key, also N.
 * A reference with another key (the Kubernetes shape {name: redis, key: password}) reads the
 * variable N_K. Like Dapr's store, variables that belong to the runtime are refused.
 */
static ss_code resolve_secret(char **out, const char *name, const char *key, const char *origin,
                              int line, const char *path, ss_error *err)
{
    bool same = !key || !*key || strcmp(key, name) == 0;
    size_t len = strlen(name) + (same ? 0 : strlen(key) + 1) + 1;
    char *var = malloc(len);
    if (!var) return set_nomem(err, origin);
    if (same)
        memcpy(var, name, len);
    else
        snprintf(var, len, "%s_%s", name, key);
    ss_code rc = SS_OK;
    if (strncmp(var, "DAPR_", 5) == 0 || strcmp(var, "APP_API_TOKEN") == 0) {
        rc = set_err(err, "%s:%d: %s: environment variable \"%s\" may not be used as a secret",
                     origin, line, path, var);
    } else {
        const char *v = getenv(var);
        if (!v)
            rc = set_err(err, "%s:%d: %s: secret environment variable \"%s\" is not set", origin,
                         line, path, var);
        else if (!(*out = dup_s(v)))
            rc = set_nomem(err, origin);
    }
    free(var);
    return rc;
}

static ss_code parse_property(ss_component *c, const node *item, size_t index, const char *origin,
                              ss_error *err)
{
    char path[64];
    snprintf(path, sizeof path, "spec.metadata[%zu]", index);
    if (item->type != N_MAP)
        return set_err(err, "%s:%d: %s: expected a mapping with \"name\" and \"value\", found %s",
                       origin, item->line, path, type_name(item));
    ss_code rc = check_map(item, origin, path, err);
    if (rc != SS_OK) return rc;

    const char *name;
    rc = get_scalar(&name, item, "name", true, true, origin, path, err);
    if (rc != SS_OK) return rc;

    const node *value, *env, *secret;
    if ((rc = map_get(&value, item, "value", origin, path, err)) != SS_OK) return rc;
    if ((rc = map_get(&env, item, "envRef", origin, path, err)) != SS_OK) return rc;
    if ((rc = map_get(&secret, item, "secretKeyRef", origin, path, err)) != SS_OK) return rc;
    int sources = (value != NULL) + !is_null(env) + !is_null(secret);
    if (sources > 1)
        return set_err(err,
                       "%s:%d: %s: \"%s\" has more than one of \"value\", \"envRef\" and "
                       "\"secretKeyRef\"",
                       origin, item->line, path, name);

    for (size_t i = 0; i < c->property_count; i++)
        if (strcasecmp(c->properties[i].name, name) == 0)
            return set_err(err, "%s:%d: %s: property \"%s\" is given twice", origin, item->line,
                           path, name);

    char *text = NULL;
    if (!is_null(env)) {
        const char *var;
        if ((rc = get_scalar(&var, item, "envRef", true, true, origin, path, err)) != SS_OK)
            return rc;
        const char *v = getenv(var);
        if (!v)
            return set_err(err, "%s:%d: %s.envRef: environment variable \"%s\" is not set", origin,
                           env->line, path, var);
        text = dup_s(v);
    } else if (!is_null(secret)) {
        char spath[96];
        snprintf(spath, sizeof spath, "%s.secretKeyRef", path);
        if (secret->type != N_MAP)
            return set_err(err, "%s:%d: %s: expected a mapping with \"name\" and \"key\", found %s",
                           origin, secret->line, spath, type_name(secret));
        if ((rc = check_map(secret, origin, spath, err)) != SS_OK) return rc;
        const char *sname, *skey;
        if ((rc = get_scalar(&sname, secret, "name", true, true, origin, spath, err)) != SS_OK)
            return rc;
        if ((rc = get_scalar(&skey, secret, "key", false, false, origin, spath, err)) != SS_OK)
            return rc;
        rc = resolve_secret(&text, sname, skey, origin, secret->line, spath, err);
        if (rc != SS_OK) return rc;
    } else if (value && !is_null(value)) {
        /* Any scalar is taken as its text: `value: 5` is "5", `value: true` is "true". */
        if (value->type != N_SCALAR)
            return set_err(err, "%s:%d: %s.value: expected a scalar, found %s", origin, value->line,
                           path, type_name(value));
        if (strlen(value->text) != value->len)
            return set_err(err, "%s:%d: %s.value: contains a NUL character", origin, value->line,
                           path);
        text = dup_n(value->text, value->len);
    } else {
        /* A name without a value (or `value: null`) is an empty string, as in Dapr. */
        text = dup_s("");
    }
    if (!text) return set_nomem(err, origin);

    ss_pair *props = realloc(c->properties, (c->property_count + 1) * sizeof *props);
    char *name_copy = dup_s(name);
    if (!props || !name_copy) {
        if (props) c->properties = props;
        free(name_copy);
        free(text);
        return set_nomem(err, origin);
    }
    c->properties = props;
    props[c->property_count].name = name_copy;
    props[c->property_count].value = text;
    c->property_count++;
    return SS_OK;
}

static bool valid_store_name(const char *s)
{
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch < 0x20 || ch == 0x7f || ch == '/' || isspace(ch)) return false;
    }
    return true;
}

/*
 * One document. *c stays zeroed when the document is skipped (empty, another kind, or not a
 * state component).
 */
static ss_code parse_document(ss_component *c, const node *root, int doc_line, const char *origin,
                              ss_error *err)
{
    if (is_null(root)) return SS_OK;
    if (root->type != N_MAP)
        return set_err(err, "%s:%d: document: expected a mapping, found %s", origin, root->line,
                       type_name(root));
    ss_code rc = check_map(root, origin, "", err);
    if (rc != SS_OK) return rc;

    const char *kind, *api, *type;
    if ((rc = get_scalar(&kind, root, "kind", true, true, origin, "", err)) != SS_OK) return rc;
    if (strcmp(kind, "Component") != 0) return SS_OK; /* Configuration, Resiliency, ... */
    if ((rc = get_scalar(&api, root, "apiVersion", true, true, origin, "", err)) != SS_OK)
        return rc;
    const node *spec, *meta, *scopes, *props, *apiv;
    map_get(&apiv, root, "apiVersion", origin, "", err);
    if (strcmp(api, API_VERSION) != 0)
        return set_err(err, "%s:%d: apiVersion: \"%s\" is not supported (expected %s)", origin,
                       apiv->line, api, API_VERSION);

    if ((rc = map_get(&spec, root, "spec", origin, "", err)) != SS_OK) return rc;
    if (is_null(spec)) return set_err(err, "%s:%d: document: missing \"spec\"", origin, root->line);
    if (spec->type != N_MAP)
        return set_err(err, "%s:%d: spec: expected a mapping, found %s", origin, spec->line,
                       type_name(spec));
    if ((rc = check_map(spec, origin, "spec", err)) != SS_OK) return rc;
    if ((rc = get_scalar(&type, spec, "type", true, true, origin, "spec", err)) != SS_OK) return rc;
    if (strncmp(type, "state.", 6) != 0) return SS_OK; /* pubsub, bindings, secret stores ... */
    if (type[6] == '\0') {
        const node *t;
        map_get(&t, spec, "type", origin, "spec", err);
        return set_err(err, "%s:%d: spec.type: \"state.\" names no driver", origin, t->line);
    }

    if ((rc = map_get(&meta, root, "metadata", origin, "", err)) != SS_OK) return rc;
    if (is_null(meta))
        return set_err(err, "%s:%d: document: missing \"metadata\"", origin, root->line);
    if (meta->type != N_MAP)
        return set_err(err, "%s:%d: metadata: expected a mapping, found %s", origin, meta->line,
                       type_name(meta));
    if ((rc = check_map(meta, origin, "metadata", err)) != SS_OK) return rc;
    const char *name, *ns, *version;
    if ((rc = get_scalar(&name, meta, "name", true, true, origin, "metadata", err)) != SS_OK)
        return rc;
    if (!valid_store_name(name)) {
        const node *n;
        map_get(&n, meta, "name", origin, "metadata", err);
        return set_err(err,
                       "%s:%d: metadata.name: \"%s\" is not a valid store name (no '/', spaces "
                       "or control characters)",
                       origin, n->line, name);
    }
    /* Read so that a malformed namespace is reported; the store does not use it. */
    if ((rc = get_scalar(&ns, meta, "namespace", false, false, origin, "metadata", err)) != SS_OK)
        return rc;
    if ((rc = get_scalar(&version, spec, "version", false, false, origin, "spec", err)) != SS_OK)
        return rc;

    c->line = doc_line;
    c->name = dup_s(name);
    c->driver = dup_s(type + 6);
    c->version = version ? dup_s(version) : NULL;
    c->file = dup_s(origin);
    if (!c->name || !c->driver || (version && !c->version) || !c->file)
        return set_nomem(err, origin);

    if ((rc = map_get(&props, spec, "metadata", origin, "spec", err)) != SS_OK) return rc;
    if (!is_null(props)) {
        if (props->type != N_SEQ)
            return set_err(err, "%s:%d: spec.metadata: expected a sequence, found %s", origin,
                           props->line, type_name(props));
        for (size_t i = 0; i < props->nkids; i++)
            if ((rc = parse_property(c, props->kids[i], i, origin, err)) != SS_OK) return rc;
    }

    if ((rc = map_get(&scopes, root, "scopes", origin, "", err)) != SS_OK) return rc;
    if (!is_null(scopes)) {
        if (scopes->type != N_SEQ)
            return set_err(err, "%s:%d: scopes: expected a sequence, found %s", origin,
                           scopes->line, type_name(scopes));
        if (scopes->nkids > 0) {
            c->scopes = calloc(scopes->nkids, sizeof *c->scopes);
            if (!c->scopes) return set_nomem(err, origin);
        }
        for (size_t i = 0; i < scopes->nkids; i++) {
            const node *s = scopes->kids[i];
            if (s->type != N_SCALAR || is_null(s) || strlen(s->text) != s->len)
                return set_err(err, "%s:%d: scopes[%zu]: expected an app id string", origin,
                               s->line, i);
            c->scopes[i] = dup_s(s->text);
            if (!c->scopes[i]) return set_nomem(err, origin);
            c->scope_count++;
        }
    }
    return SS_OK;
}

static ss_code check_duplicate(const ss_component_list *list, size_t upto, const ss_component *c,
                               ss_error *err)
{
    for (size_t i = 0; i < upto; i++) {
        const ss_component *o = &list->items[i];
        if (strcmp(o->name, c->name) == 0)
            return set_err(err, "%s:%d: metadata.name: store \"%s\" is already defined in %s:%d",
                           c->file, c->line, c->name, o->file, o->line);
    }
    return SS_OK;
}

ss_code ss_components_parse(ss_component_list *out, const char *text, size_t len,
                            const char *origin, ss_error *err)
{
    if (!out || (!text && len > 0))
        return set_err(err, "ss_components_parse: %s is NULL", !out ? "out" : "text");
    if (!origin) origin = "<input>";
    if (len > MAX_FILE_BYTES)
        return set_err(err, "%s: %zu bytes is larger than the %u-byte limit for a component file",
                       origin, len, MAX_FILE_BYTES);

    size_t start_count = out->count;
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser)) return set_nomem(err, origin);
    yaml_parser_set_input_string(&parser, (const unsigned char *)(text ? text : ""), len);

    builder b = {.origin = origin, .err = err};
    ss_code rc = SS_OK;
    int doc_line = 1;
    bool done = false;
    while (!done && rc == SS_OK) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&parser, &ev)) {
            const char *problem = parser.problem ? parser.problem : "syntax error";
            if (parser.context)
                rc = set_err(err, "%s:%zu:%zu: invalid YAML: %s %s", origin,
                             (size_t)parser.problem_mark.line + 1,
                             (size_t)parser.problem_mark.column + 1, parser.context, problem);
            else
                rc = set_err(err, "%s:%zu:%zu: invalid YAML: %s", origin,
                             (size_t)parser.problem_mark.line + 1,
                             (size_t)parser.problem_mark.column + 1, problem);
            if (parser.error == YAML_MEMORY_ERROR) rc = set_nomem(err, origin);
            break;
        }
        switch (ev.type) {
        case YAML_STREAM_END_EVENT:
            done = true;
            break;
        case YAML_DOCUMENT_START_EVENT:
            builder_reset(&b);
            doc_line = (int)ev.start_mark.line + 1;
            break;
        case YAML_DOCUMENT_END_EVENT: {
            ss_component c = {0};
            rc = parse_document(&c, b.root, doc_line, origin, err);
            if (rc == SS_OK && c.name) {
                rc = check_duplicate(out, out->count, &c, err);
                if (rc == SS_OK && !list_push(out, &c)) rc = set_nomem(err, origin);
            }
            component_clear(&c);
            builder_reset(&b);
            break;
        }
        default:
            rc = builder_event(&b, &ev);
            break;
        }
        yaml_event_delete(&ev);
    }
    builder_reset(&b);
    yaml_parser_delete(&parser);
    if (rc != SS_OK) {
        /* All or nothing: a bad file adds no component. */
        for (size_t i = start_count; i < out->count; i++) component_clear(&out->items[i]);
        out->count = start_count;
        if (start_count == 0) {
            free(out->items);
            out->items = NULL;
        }
    }
    return rc;
}

ss_code ss_components_load_file(ss_component_list *out, const char *path, ss_error *err)
{
    if (!out || !path)
        return set_err(err, "ss_components_load_file: %s is NULL", !out ? "out" : "path");
    FILE *f = fopen(path, "rb");
    if (!f) return set_err(err, "%s: %s", path, strerror(errno));
    char *buf = malloc(MAX_FILE_BYTES + 1);
    if (!buf) {
        fclose(f);
        return set_nomem(err, path);
    }
    size_t n = fread(buf, 1, MAX_FILE_BYTES + 1, f);
    bool failed = ferror(f);
    int saved = errno;
    fclose(f);
    ss_code rc;
    if (failed)
        rc = set_err(err, "%s: read failed: %s", path, strerror(saved));
    else if (n > MAX_FILE_BYTES)
        rc = set_err(err, "%s: larger than the %u-byte limit for a component file", path,
                     MAX_FILE_BYTES);
    else
        rc = ss_components_parse(out, buf, n, path, err);
    free(buf);
    return rc;
}

static bool has_yaml_ext(const char *name)
{
    size_t n = strlen(name);
    return (n > 5 && strcmp(name + n - 5, ".yaml") == 0) ||
           (n > 4 && strcmp(name + n - 4, ".yml") == 0);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

ss_code ss_components_load_dir(ss_component_list *out, const char *dir, ss_error *err)
{
    if (!out || !dir)
        return set_err(err, "ss_components_load_dir: %s is NULL", !out ? "out" : "dir");
    DIR *d = opendir(dir);
    if (!d) return set_err(err, "resources path \"%s\": %s", dir, strerror(errno));
    char **names = NULL;
    size_t count = 0, cap = 0;
    ss_code rc = SS_OK;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (!has_yaml_ext(de->d_name)) continue;
        if (count == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            char **nn = realloc(names, ncap * sizeof *nn);
            if (!nn) {
                rc = set_nomem(err, dir);
                break;
            }
            names = nn;
            cap = ncap;
        }
        size_t len = strlen(dir) + strlen(de->d_name) + 2;
        names[count] = malloc(len);
        if (!names[count]) {
            rc = set_nomem(err, dir);
            break;
        }
        /* Keep the path as the user spelled the directory, so messages match their input. */
        size_t dl = strlen(dir);
        snprintf(names[count], len, "%s%s%s", dir, (dl && dir[dl - 1] == '/') ? "" : "/",
                 de->d_name);
        count++;
    }
    closedir(d);
    if (rc == SS_OK && count > 1) qsort(names, count, sizeof *names, cmp_str);

    size_t start_count = out->count;
    for (size_t i = 0; rc == SS_OK && i < count; i++) {
        struct stat st;
        if (stat(names[i], &st) != 0) {
            rc = set_err(err, "%s: %s", names[i], strerror(errno));
            break;
        }
        if (!S_ISREG(st.st_mode)) continue;
        rc = ss_components_load_file(out, names[i], err);
    }
    if (rc != SS_OK) {
        for (size_t i = start_count; i < out->count; i++) component_clear(&out->items[i]);
        out->count = start_count;
        if (start_count == 0) {
            free(out->items);
            out->items = NULL;
        }
    }
    for (size_t i = 0; i < count; i++) free(names[i]);
    free(names);
    return rc;
}
