/*
 * main.c — the statestore CLI: the subcommand table, help, and dispatch. Global options are
 * parsed in args.c, the store is opened in store.c.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

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

static void print_command_help(FILE *f, const command *cmd)
{
    fprintf(f, "Usage: statestore [OPTIONS] %s\n%s", cmd->usage, GLOBAL_HELP);
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
            if (status == EXIT_HELP) {
                print_command_help(stdout, cmd);
                status = 0;
            }
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
