/*
 * store.c — opening the selected store: component files, an ad-hoc --driver, or the embedded
 * SQLite default.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"
#include "components/components.h"

#define DEFAULT_STORE_NAME "statestore"
#define DEFAULT_STORE_PATH "./statestore.db"

static void log_to_stderr(void *ctx, ss_log_level level, const char *message)
{
    const cli *c = ctx;
    if (c->quiet && level > SS_LOG_ERROR) return;
    fprintf(stderr, "%s: %s: %s\n", c->prog, level == SS_LOG_ERROR ? "error" : "warning", message);
}

static bool driver_declares(const ss_driver_info *info, const char *name)
{
    for (size_t i = 0; i < info->property_count; i++)
        if (strcasecmp(info->properties[i].name, name) == 0) return true;
    return false;
}

/*
 * The embedded default: SQLite at --default-store-path. The SQLite driver's property for the
 * file is found from its declared table, so a rename there does not silently break this.
 */
static int open_default(cli *c, ss_config *cfg, pairs *props)
{
    ss_driver_info info;
    if (!ss_driver_find("sqlite", &info)) {
        cli_errorf(c, SS_UNSUPPORTED,
                   "no store configured and the sqlite driver is not built in; use --driver or "
                   "--resources-path");
        return ss_code_exit_status(SS_UNSUPPORTED);
    }
    static const char *const candidates[] = {"connectionString", "path", "file", "database"};
    const char *prop = NULL;
    for (size_t i = 0; i < sizeof candidates / sizeof candidates[0] && !prop; i++)
        if (driver_declares(&info, candidates[i])) prop = candidates[i];
    if (!prop) prop = "connectionString";
    const char *path = c->default_store_path ? c->default_store_path : DEFAULT_STORE_PATH;
    if (!pairs_add(props, prop, strlen(prop), path, strlen(path))) {
        cli_errorf(c, SS_NOMEM, "out of memory");
        return ss_code_exit_status(SS_NOMEM);
    }
    cfg->driver = "sqlite";
    cfg->name = DEFAULT_STORE_NAME;
    return 0;
}

int cli_open_store(cli *c)
{
    if (c->store) return 0;
    if (c->driver && c->resources_path)
        return cli_usage(c, NULL, "--driver and --resources-path cannot be used together");
    if (c->props.count && !c->driver) return cli_usage(c, NULL, "--prop needs --driver");

    ss_config cfg = {.log = log_to_stderr, .log_ctx = c, .log_level = SS_LOG_WARN};
    pairs props = {0};
    ss_component_list list = {0};
    ss_component_store cs = {0};
    const ss_component *comp = NULL;
    int rc = 0;

    if (c->driver) {
        cfg.driver = c->driver;
        cfg.name = c->store_name ? c->store_name : DEFAULT_STORE_NAME;
        cfg.properties = c->props.items;
        cfg.property_count = c->props.count;
    } else {
        if (c->resources_path) {
            ss_error err = {0};
            ss_code code = ss_components_load_dir(&list, c->resources_path, &err);
            if (code != SS_OK) {
                cli_errorf(c, code, "%s", err.message);
                rc = code == SS_NOMEM ? ss_code_exit_status(code) : EXIT_CONFIG;
                goto out;
            }
        }
        if (list.count == 0) {
            if (c->store_name && strcmp(c->store_name, DEFAULT_STORE_NAME) != 0) {
                rc = cli_usage(c, NULL, "store \"%s\" not found: %s", c->store_name,
                               c->resources_path ? "no state components in the resources path"
                                                 : "no --resources-path given");
                goto out;
            }
            if ((rc = open_default(c, &cfg, &props)) != 0) goto out;
        } else {
            for (size_t i = 0; i < list.count && !comp; i++) {
                const char *want = c->store_name     ? c->store_name
                                   : list.count == 1 ? list.items[0].name
                                                     : DEFAULT_STORE_NAME;
                if (strcmp(list.items[i].name, want) == 0) comp = &list.items[i];
            }
            if (!comp) {
                char names[512] = "";
                for (size_t i = 0; i < list.count; i++) {
                    size_t used = strlen(names);
                    snprintf(names + used, sizeof names - used, "%s%s", i ? ", " : "",
                             list.items[i].name);
                }
                if (c->store_name)
                    rc = cli_usage(c, NULL, "store \"%s\" not found in %s (stores: %s)",
                                   c->store_name, c->resources_path, names);
                else
                    rc = cli_usage(c, NULL, "several stores (%s): choose one with --store", names);
                goto out;
            }
            /* The same config statestored builds; no key prefix: the CLI's keys are the keys
             * as stored. */
            ss_error err = {0};
            ss_code code = ss_component_store_init(&cs, comp, NULL, &err);
            if (code != SS_OK) {
                cli_errorf(c, code, "%s:%d: %s", comp->file, comp->line, err.message);
                rc = ss_code_exit_status(code);
                goto out;
            }
            cs.config.log = cfg.log;
            cs.config.log_ctx = cfg.log_ctx;
            cs.config.log_level = cfg.log_level;
            cfg = cs.config;
        }
        if (props.count) {
            cfg.properties = props.items;
            cfg.property_count = props.count;
        }
    }

    ss_error err = {0};
    ss_code code = ss_open(&c->store, &cfg, &err);
    if (code != SS_OK) {
        /* For a component, name the file it came from: the fix usually belongs there. */
        if (comp) {
            cli_errorf(c, code, "%s:%d: %s", comp->file, comp->line, err.message);
            rc = ss_code_exit_status(code);
        } else {
            rc = cli_fail(c, code, &err);
        }
        c->store = NULL;
    }
out:
    pairs_free(&props);
    ss_component_store_dispose(&cs);
    ss_component_list_free(&list);
    return rc;
}
