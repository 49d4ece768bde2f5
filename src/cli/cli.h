/*
 * cli.h — internals shared by the statestore CLI's files. Not installed.
 *
 * The CLI is a plain client of the public API (statestore.h) and the component loader.
 */
#ifndef SS_CLI_H
#define SS_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <statestore.h>

#include "support/arena.h"
#include "support/json.h"

/* Exit codes beyond the error table (sysexits.h values, so shells and CI recognise them). */
enum {
    EXIT_USAGE = 64,     /* bad command line */
    EXIT_NOINPUT = 66,   /* an input file cannot be opened */
    EXIT_CANTCREAT = 73, /* an output file cannot be created */
    EXIT_IOERR = 74,     /* reading or writing failed */
    EXIT_CONFIG = 78,    /* an invalid component file */
    /* Not an exit status: a subcommand returns it after its --help, and main prints the help
     * (from its table) and exits 0. */
    EXIT_HELP = 256,
};

/* A growable list of owned name/value pairs (--prop, --metadata). */
typedef struct pairs {
    ss_pair *items; /* names and values are owned */
    size_t count;
} pairs;

void pairs_free(pairs *p);
/* Adds "k=v" (split at the first '='). False on a missing '=' or empty name. */
bool pairs_add_kv(pairs *p, const char *kv);
bool pairs_add(pairs *p, const char *name, size_t name_len, const char *value, size_t value_len);
const char *pairs_get(const pairs *p, const char *name);

/* Global options and the open store. */
typedef struct cli {
    const char *prog;
    bool json;
    bool quiet;
    const char *resources_path;
    const char *store_name;
    const char *driver;
    const char *default_store_path;
    pairs props;
    ss_store *store;
    bool stdout_tty;
    bool stderr_tty;
} cli;

/* Prints "statestore: <msg>" on stderr (and an error object on stdout with --json). */
void cli_errorf(const cli *c, ss_code code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* Reports an ss_error from the library and returns the exit status for it. */
int cli_fail(const cli *c, ss_code code, const ss_error *err);
/* Prints a usage error, a hint to run --help, and returns EXIT_USAGE. */
int cli_usage(const cli *c, const char *cmd, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Opens the selected store into c->store (once; store.c). Returns 0 or an exit status (already
 * reported). */
int cli_open_store(cli *c);

/* ------------------------------------------------------------------------------------------ */
/* Argument parsing shared by every subcommand                                                 */
/* ------------------------------------------------------------------------------------------ */

typedef struct opt_spec {
    const char *name; /* long name without "--" */
    char short_name;  /* 0 = none */
    bool has_arg;
    int id;
} opt_spec;

typedef struct arg_iter {
    int argc;
    char **argv;
    int i;
    bool only_positional; /* after "--" */
} arg_iter;

enum { ARG_END = 0, ARG_POSITIONAL = -1, ARG_HELP = -2, ARG_ERROR = -3 };

/*
 * Returns the next subcommand option's id (with *val for options taking a value), ARG_POSITIONAL
 * (*val = the argument), ARG_HELP, ARG_END, or ARG_ERROR (already reported as a usage error).
 * Global options are applied to `c` wherever they appear.
 */
int arg_next(cli *c, arg_iter *it, const char *cmd, const opt_spec *opts, const char **val);

/* What a subcommand's options and arguments said (each command allows a subset). */
typedef struct cmd_args {
    const char **pos; /* positional arguments (borrowed from argv) */
    size_t npos;
    const char *consistency, *etag, *file, *ttl, *output, *keys_file;
    bool first_write;
    unsigned parallelism, batch;
    pairs metadata;
} cmd_args;

enum {
    O_CONSISTENCY = 1,
    O_METADATA,
    O_ETAG,
    O_FIRST_WRITE,
    O_TTL,
    O_FILE,
    O_PARALLELISM,
    O_BATCH,
    O_KEYS,
    O_OUTPUT,
};

/* Parses a subcommand's arguments. Returns -1 to go on, else the exit status (EXIT_HELP after
 * --help). */
int cmd_parse(cli *c, const char *cmd, int argc, char **argv, const opt_spec *opts, cmd_args *a);
void cmd_args_free(cmd_args *a);

/* ------------------------------------------------------------------------------------------ */
/* Subcommands                                                                                 */
/* ------------------------------------------------------------------------------------------ */

int cmd_get(cli *c, int argc, char **argv);
int cmd_set(cli *c, int argc, char **argv);
int cmd_delete(cli *c, int argc, char **argv);
int cmd_bulk_get(cli *c, int argc, char **argv);
int cmd_transact(cli *c, int argc, char **argv);
int cmd_import(cli *c, int argc, char **argv);
int cmd_export(cli *c, int argc, char **argv);
int cmd_describe(cli *c, int argc, char **argv);
int cmd_drivers(cli *c, int argc, char **argv);

/* ------------------------------------------------------------------------------------------ */
/* Files and text                                                                              */
/* ------------------------------------------------------------------------------------------ */

/* Reads a whole file ("-" = stdin) into a NUL-terminated buffer. 0 or an exit status. */
int read_all(const cli *c, const char *path, char **out, size_t *len);

/* A progress line on stderr, drawn only when stderr is a terminal. total 0 = unknown. */
typedef struct progress {
    bool on;
    const char *what;
    unsigned long long total;
    unsigned long long last_drawn;
} progress;

void progress_start(progress *p, const cli *c, const char *what, unsigned long long total);
void progress_update(progress *p, unsigned long long done, unsigned long long count);
void progress_end(progress *p);

/* ------------------------------------------------------------------------------------------ */
/* JSON                                                                                        */
/* ------------------------------------------------------------------------------------------ */

/* Files the CLI reads are parsed with ss_json_parse(..., SS_JSON_UTF8, ...) (support/json.h):
 * strict RFC 8259, and every string Unicode text. */

/* Writers (escaping as ss_json_put_str). Bytes that are not UTF-8 cannot be JSON strings:
 * callers use the *_field writers for them. */
void json_put_string(FILE *f, const char *s, size_t len);
/* "key":"<utf8>" or "key_base64":"..." */
void json_put_bytes_field(FILE *f, const char *field, const char *s, size_t len);
/*
 * A value, exact for any bytes: "value":<the JSON text itself> when the bytes are one line of
 * valid JSON, else "text":"..." when UTF-8, else "base64":"...".
 */
void json_put_value_fields(FILE *f, const char *data, size_t len);

/* One key's record as export writes it; "found" for get/bulk-get; metadata on request. */
void json_put_record(FILE *f, const char *key, const ss_value *v, bool with_found,
                     bool with_metadata);

/*
 * Reads the value of an item object written as above ("value" raw JSON, "text" or "base64").
 * On success *data is owned by `keep` (or points into the document). Returns 0, or 1 with a
 * message in why.
 */
int json_get_value_fields(const ss_json *d, int obj, bool nocase, ss_arena *keep, const char **data,
                          size_t *len, bool *present, char *why, size_t why_len);

#endif
