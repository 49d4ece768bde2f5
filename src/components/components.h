/*
 * components.h — Dapr component YAML files, shared by statestored and the statestore CLI.
 *
 * A component file (apiVersion dapr.io/v1alpha1, kind Component) names a store
 * (metadata.name), its driver (spec.type "state.<driver>"), and its properties
 * (spec.metadata: name + value | envRef | secretKeyRef, resolved from environment variables).
 * Several documents per file ("---") and several files per directory (*.yaml, *.yml).
 * Internal to this tree; not installed.
 */
#ifndef SS_COMPONENTS_H
#define SS_COMPONENTS_H

#include <statestore.h>

typedef struct ss_component {
    char *name;          /* metadata.name: the store name used in URLs */
    char *driver;        /* spec.type without "state." */
    char *version;       /* spec.version, or NULL */
    char *file;          /* the file it came from */
    int line;            /* line of the document start (1-based) */
    ss_pair *properties; /* spec.metadata, resolved; owned strings */
    size_t property_count;
    char **scopes; /* app ids allowed to use it; NULL when open to all */
    size_t scope_count;
} ss_component;

typedef struct ss_component_list {
    ss_component *items;
    size_t count;
} ss_component_list;

/*
 * Loads every state component (spec.type starting "state.") from DIR's *.yaml / *.yml files, in
 * file-name order; other kinds and types are skipped. An invalid file is INVALID with a message
 * naming the file, the line and the field. A missing directory is INVALID naming it.
 * Appends to *out (zero it first); free with ss_component_list_free.
 */
ss_code ss_components_load_dir(ss_component_list *out, const char *dir, ss_error *err);

/* Loads one file (same rules). */
ss_code ss_components_load_file(ss_component_list *out, const char *path, ss_error *err);

/* Parses YAML text already in memory (for tests and fuzzing); `origin` names it in messages. */
ss_code ss_components_parse(ss_component_list *out, const char *text, size_t len,
                            const char *origin, ss_error *err);

/* Frees every component and the array; NULL is fine. */
void ss_component_list_free(ss_component_list *list);

/* Looks a property up case-insensitively; NULL when absent. */
const char *ss_component_prop(const ss_component *c, const char *name);

/*
 * A component ready for ss_open, built the same way for statestored and the CLI (store_config.c).
 * `config` has the driver, the store name and the driver's properties: every property but the
 * runtime settings keyPrefix and actorStateStore, which are daprd's and never reach a driver.
 * The caller fills in config's log fields. Strings are borrowed from the component, so it must
 * outlive this.
 */
typedef struct ss_component_store {
    ss_config config;
    char *key_prefix; /* "<prefix>||" by daprd's keyPrefix rule, or NULL for no prefix */
    ss_pair *props;   /* owned array behind config.properties */
} ss_component_store;

/*
 * Fills *out for component c. app_id ("" when none) selects daprd's keyPrefix rule: appid
 * (default) "<app_id>||", name "<store>||", namespace "<$NAMESPACE>.<app_id>||", none, or any
 * other value "<value>||" (INVALID when it contains "||"). app_id NULL: the caller does no key
 * prefixing (the CLI) and key_prefix stays NULL. Free with ss_component_store_dispose.
 */
ss_code ss_component_store_init(ss_component_store *out, const ss_component *c, const char *app_id,
                                ss_error *err);
void ss_component_store_dispose(ss_component_store *s); /* NULL is fine */

/* True for the runtime settings daprd reads from a component (keyPrefix, actorStateStore). */
bool ss_component_runtime_prop(const char *name);

#endif
