/*
 * main.c — the statestore CLI: global options, the subcommand table, help, and opening the
 * selected store (component files, an ad-hoc --driver, or the embedded SQLite default).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cli.h"
#include "components/components.h"

#define DEFAULT_STORE_NAME "statestore"
#define DEFAULT_STORE_PATH "./statestore.db"

typedef struct command {
    const char *name;
    int (*run)(cli *c, int argc, char **argv);
    const char *summary;
    const char *usage; /* the full help text after the "Usage:" line */
} command;

static const command COMMANDS[] = {
    {"get", cmd_get, "print a key's value (ETag on stderr)",
     "get KEY [--consistency strong|eventual] [--metadata k=v]...\n"
     "\n"
     "Prints the value's bytes exactly as stored. A newline is added only when stdout is a\n"
     "terminal and the value does not end with one. The ETag and response metadata (e.g.\n"
     "ttlExpireTime) go to stderr as 'etag: ...' lines (not with --quiet). With --json, one\n"
     "object {\"key\", \"value\"|\"text\"|\"base64\", \"etag\", \"metadata\"} on stdout.\n"
     "A missing key exits 3 (NOT_FOUND).\n"},
    {"set", cmd_set, "write a key",
     "set KEY (VALUE | - | --file FILE) [--etag E] [--first-write] [--ttl SECONDS]\n"
     "    [--consistency strong|eventual] [--metadata k=v]...\n"
     "\n"
     "Stores VALUE's bytes exactly (no newline is added or removed); '-' or --file - reads\n"
     "stdin. --etag: write only if the key's current ETag matches (else exit 4,\n"
     "ETAG_MISMATCH). --first-write: insert only (an existing key exits 4). --ttl N: expire\n"
     "after N seconds (-1 = never). Prints the new ETag on stdout when the store has ETags.\n"},
    {"delete", cmd_delete, "delete a key",
     "delete KEY [--etag E] [--first-write] [--consistency strong|eventual] [--metadata k=v]...\n"
     "\n"
     "Deleting a missing key succeeds; with --etag it exits 4 (ETAG_MISMATCH).\n"},
    {"bulk-get", cmd_bulk_get, "read several keys",
     "bulk-get KEY... [--parallelism N] [--consistency strong|eventual] [--metadata k=v]...\n"
     "\n"
     "One line per key, in order: KEY<TAB>etag=E<TAB>VALUE, or KEY<TAB>(not found). Values\n"
     "that are not one line of printable text are shown as a JSON string (or base64:...).\n"
     "With --json, an array of export-format objects ({\"key\", \"found\", ...}).\n"
     "Exits with the first per-key error's code, if any.\n"},
    {"transact", cmd_transact, "apply a transaction from a JSON file",
     "transact (FILE | -) [--metadata k=v]...\n"
     "\n"
     "FILE is Dapr's transaction body:\n"
     "  {\"operations\": [{\"operation\": \"upsert\", \"request\": {\"key\": \"k\", \"value\": "
     "<json>,\n"
     "     \"etag\": \"...\", \"metadata\": {...}, \"options\": {\"concurrency\": "
     "\"first-write\"}}},\n"
     "   {\"operation\": \"delete\", \"request\": {\"key\": \"k2\", \"etag\": \"...\"}}],\n"
     "   \"metadata\": {...}}\n"
     "Each upsert stores the exact JSON text of \"value\" (as statestored does); \"text\": "
     "\"...\"\n"
     "or \"base64\": \"...\" store raw bytes instead. All or nothing: a failed ETag check\n"
     "changes nothing and exits 4. --metadata adds transaction metadata.\n"},
    {"import", cmd_import, "load JSON Lines records",
     "import [FILE | -] [--first-write] [--batch N]\n"
     "\n"
     "Reads JSON Lines as written by export, one record per line:\n"
     "  {\"key\": \"k\", \"value\": <json>}   or \"text\": \"...\" / \"base64\": \"...\"\n"
     "  (\"key_base64\" for keys that are not UTF-8; \"etag\" is ignored; \"metadata\": {...}\n"
     "  is sent with the write, e.g. {\"ttlInSeconds\": \"60\"}). Blank lines are skipped.\n"
     "Writes in batches of N (default 100) with bulk set; not atomic: a bad line stops the\n"
     "import after the records before it were written. --first-write keeps existing keys\n"
     "(they are reported and the exit status is 4). Default input: stdin. Progress is shown\n"
     "on stderr when it is a terminal.\n"},
    {"export", cmd_export, "write keys as JSON Lines",
     "export [KEY...] [--keys FILE|-] [--output FILE|-] [--batch N]\n"
     "\n"
     "The state API cannot list keys, so export needs the keys to write: as arguments and/or\n"
     "in a file with one key per line (--keys; '-' = stdin). Each found key becomes one line\n"
     "  {\"key\": \"k\", \"value\": <json>, \"etag\": \"...\"}\n"
     "where \"value\" is the stored bytes themselves when they are one line of valid JSON;\n"
     "other values use \"text\" (UTF-8) or \"base64\", so import restores every byte. Missing\n"
     "keys are skipped and counted on stderr. Output defaults to stdout. Progress is shown\n"
     "on stderr when it is a terminal.\n"},
    {"describe", cmd_describe, "show a driver's properties and features",
     "describe DRIVER\n"
     "\n"
     "Lists the driver's properties (name, required, default, secret, doc), its features and\n"
     "limits. With --json, one object.\n"},
    {"drivers", cmd_drivers, "list the drivers built in",
     "drivers\n"
     "\n"
     "One line per driver: name, version, features, summary. With --json, an array.\n"},
};

#define NCOMMANDS (sizeof COMMANDS / sizeof COMMANDS[0])

static const char GLOBAL_HELP[] =
    "Global options (before or after the subcommand):\n"
    "  --resources-path DIR   Dapr component files (*.yaml, *.yml); also --components-path\n"
    "  --store NAME           which store (default: the only one, else \"statestore\")\n"
    "  --driver D             an ad-hoc store without component files (e.g. sqlite, redis)\n"
    "  --prop k=v             a property of the --driver store (repeatable)\n"
    "  --default-store-path P the embedded SQLite file used when nothing else is configured\n"
    "                         (default ./statestore.db)\n"
    "  --json                 machine-readable output on stdout\n"
    "  -q, --quiet            no ETag/progress/summary lines on stderr\n"
    "  -h, --help             help (for a subcommand: statestore SUBCOMMAND --help)\n"
    "  --version              print the version\n"
    "\n"
    "Exit status: 0 ok; 2 invalid input; 3 not found; 4 ETag mismatch; 5 ETag invalid;\n"
    "6 unsupported; 7 unavailable; 8 timeout; 9 too large; 10 out of memory; 11 backend error;\n"
    "64 usage; 66 cannot open input; 73 cannot create output; 74 I/O error;\n"
    "78 invalid component file.\n";

static void print_main_help(FILE *f)
{
    fprintf(f,
            "Usage: statestore [OPTIONS] SUBCOMMAND [ARGS]\n\n"
            "Reads and writes the state stores of Dapr component files (or one ad-hoc store).\n\n"
            "Subcommands:\n");
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(f, "  %-10s %s\n", COMMANDS[i].name, COMMANDS[i].summary);
    fprintf(f, "\n%s", GLOBAL_HELP);
}

void cli_print_command_help(FILE *f, const char *cmd)
{
    for (size_t i = 0; i < NCOMMANDS; i++) {
        if (strcmp(COMMANDS[i].name, cmd) != 0) continue;
        fprintf(f, "Usage: statestore [OPTIONS] %s\n%s", COMMANDS[i].usage, GLOBAL_HELP);
        return;
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Arguments                                                                                   */
/* ------------------------------------------------------------------------------------------ */

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

/* ------------------------------------------------------------------------------------------ */
/* Opening the store                                                                           */
/* ------------------------------------------------------------------------------------------ */

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

/* ------------------------------------------------------------------------------------------ */

int main(int argc, char **argv)
{
    cli c = {.prog = "statestore"};
    c.stdout_tty = isatty(STDOUT_FILENO);
    c.stderr_tty = isatty(STDERR_FILENO);

    arg_iter it = {.argc = argc, .argv = argv, .i = 1};
    const char *val;
    int r = arg_next(&c, &it, NULL, NULL, &val);
    int status;
    if (r == ARG_ERROR) {
        status = EXIT_USAGE;
    } else if (r == ARG_HELP) {
        print_main_help(stdout);
        status = 0;
    } else if (r == ARG_END) {
        print_main_help(stderr);
        status = EXIT_USAGE;
    } else {
        const command *cmd = NULL;
        for (size_t i = 0; i < NCOMMANDS; i++)
            if (strcmp(COMMANDS[i].name, val) == 0) cmd = &COMMANDS[i];
        if (!cmd) {
            status = cli_usage(&c, NULL, "unknown subcommand '%s'", val);
        } else {
            status = cmd->run(&c, argc - it.i, argv + it.i);
        }
    }
    if (fflush(stdout) != 0 && status == 0) {
        fprintf(stderr, "statestore: writing to stdout failed\n");
        status = EXIT_IOERR;
    }
    ss_close(c.store);
    pairs_free(&c.props);
    return status;
}
