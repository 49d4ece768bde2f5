/*
 * args.c — the CLI's option parsing: global options wherever they appear, and each
 * subcommand's own.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

enum {
    G_RESOURCES = 1000,
    G_STORE,
    G_DRIVER,
    G_PROP,
    G_DEFAULT_PATH,
    G_JSON,
    G_QUIET,
    G_HELP,
    G_VERSION,
};

static const opt_spec GLOBAL_OPTS[] = {
    {"resources-path", 0, true, G_RESOURCES},
    {"components-path", 0, true, G_RESOURCES},
    {"store", 0, true, G_STORE},
    {"driver", 0, true, G_DRIVER},
    {"prop", 0, true, G_PROP},
    {"default-store-path", 0, true, G_DEFAULT_PATH},
    {"json", 0, false, G_JSON},
    {"quiet", 'q', false, G_QUIET},
    {"help", 'h', false, G_HELP},
    {"version", 0, false, G_VERSION},
    {NULL, 0, false, 0},
};

static const opt_spec *find_opt(const opt_spec *opts, const char *name, size_t len, char short_name)
{
    for (; opts && opts->name; opts++) {
        if (short_name) {
            if (opts->short_name == short_name) return opts;
        } else if (strlen(opts->name) == len && strncmp(opts->name, name, len) == 0) {
            return opts;
        }
    }
    return NULL;
}

int arg_next(cli *c, arg_iter *it, const char *cmd, const opt_spec *opts, const char **val)
{
    *val = NULL;
    for (;;) {
        if (it->i >= it->argc) return ARG_END;
        char *a = it->argv[it->i++];
        if (it->only_positional || a[0] != '-' || strcmp(a, "-") == 0) {
            *val = a;
            return ARG_POSITIONAL;
        }
        if (strcmp(a, "--") == 0) {
            it->only_positional = true;
            continue;
        }
        const opt_spec *o;
        const char *inline_val = NULL;
        const char *shown = a;
        if (a[1] == '-') {
            const char *name = a + 2;
            const char *eq = strchr(name, '=');
            size_t len = eq ? (size_t)(eq - name) : strlen(name);
            if (eq) inline_val = eq + 1;
            o = find_opt(opts, name, len, 0);
            if (!o) o = find_opt(GLOBAL_OPTS, name, len, 0);
        } else {
            if (a[2] != '\0') {
                cli_usage(c, cmd, "unknown option '%s'", a);
                return ARG_ERROR;
            }
            o = find_opt(opts, NULL, 0, a[1]);
            if (!o) o = find_opt(GLOBAL_OPTS, NULL, 0, a[1]);
        }
        if (!o) {
            cli_usage(c, cmd, "unknown option '%s'", shown);
            return ARG_ERROR;
        }
        const char *v = NULL;
        if (o->has_arg) {
            if (inline_val) {
                v = inline_val;
            } else if (it->i < it->argc) {
                v = it->argv[it->i++];
            } else {
                cli_usage(c, cmd, "option '--%s' needs a value", o->name);
                return ARG_ERROR;
            }
        } else if (inline_val) {
            cli_usage(c, cmd, "option '--%s' takes no value", o->name);
            return ARG_ERROR;
        }
        switch (o->id) {
        case G_RESOURCES:
            c->resources_path = v;
            continue;
        case G_STORE:
            if (!*v) {
                cli_usage(c, cmd, "--store needs a non-empty name");
                return ARG_ERROR;
            }
            c->store_name = v;
            continue;
        case G_DRIVER:
            c->driver = v;
            continue;
        case G_PROP:
            if (!pairs_add_kv(&c->props, v)) {
                cli_usage(c, cmd, "--prop expects NAME=VALUE, got '%s'", v);
                return ARG_ERROR;
            }
            continue;
        case G_DEFAULT_PATH:
            c->default_store_path = v;
            continue;
        case G_JSON:
            c->json = true;
            continue;
        case G_QUIET:
            c->quiet = true;
            continue;
        case G_HELP:
            return ARG_HELP;
        case G_VERSION:
            printf("statestore %s\n", ss_version());
            pairs_free(&c->props);
            exit(0);
        default:
            *val = v;
            return o->id;
        }
    }
}
