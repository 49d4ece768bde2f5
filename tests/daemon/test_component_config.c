/*
 * test_component_config.c — one component opened by statestored and by the CLI: the runtime
 * settings keyPrefix and actorStateStore never reach the driver (no "unknown property" warning
 * in either), and the key prefix the daemon applies is daprd's rule, seen in the same store
 * through the CLI (whose keys are the keys as stored).
 * argv[1] = statestored, argv[2] = the statestore CLI.
 */
#include "dtest.h"

/* A component on SQLite (a driver that warns about properties it does not declare). */
static void write_component(const char *path, const char *name, const char *db,
                            const char *extra_props)
{
    char text[2048];
    snprintf(text, sizeof text,
             "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: %s\n"
             "spec:\n  type: state.sqlite\n  version: v1\n  metadata:\n"
             "  - name: connectionString\n    value: \"%s\"\n%s",
             name, db, extra_props);
    dt_write_file(path, text);
}

typedef struct run_result {
    int status;
    char out[4096];
    char err[4096];
} run_result;

static void read_into(const char *path, char *buf, size_t cap)
{
    buf[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f) return;
    size_t n = fread(buf, 1, cap - 1, f);
    buf[n] = '\0';
    fclose(f);
}

/* Runs the CLI with args (NULL-terminated); stdout and stderr go through files in dir. */
static void run_cli(run_result *r, const char *cli, const char *dir, const char *const *args)
{
    char out[700], err[700];
    snprintf(out, sizeof out, "%s/cli.out", dir);
    snprintf(err, sizeof err, "%s/cli.err", dir);
    const char *argv[32];
    int a = 0;
    argv[a++] = cli;
    for (; *args && a < 31; args++) argv[a++] = *args;
    argv[a] = NULL;
    pid_t pid = dt_spawn(argv, out, err, NULL);
    int st;
    waitpid(pid, &st, 0);
    r->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    read_into(out, r->out, sizeof r->out);
    read_into(err, r->err, sizeof r->err);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s <statestored> <statestore CLI>\n", argv[0]);
        return 2;
    }
    const char *exe, *cli = argv[2];
    char dir[] = "/tmp/ss-component-config-XXXXXX", res[600], path[700], db[700];
    int rc = dt_setup(argc, argv, &exe, dir, res, sizeof res);
    if (rc) return rc;
    snprintf(db, sizeof db, "%s/shared.db", dir);
    /* The store under test: both runtime settings, a custom prefix. */
    snprintf(path, sizeof path, "%s/shared.yaml", res);
    write_component(path, "shared", db,
                    "  - name: actorStateStore\n    value: \"true\"\n"
                    "  - name: keyPrefix\n    value: team\n");
    /* The control: a property no driver declares is still passed on and warned about, so the
     * log check below is able to fail. */
    snprintf(path, sizeof path, "%s/control.yaml", res);
    write_component(path, "control", db, "  - name: colour\n    value: blue\n");

    const char *args[] = {"--resources-path", res, "--app-id", "myapp", NULL};
    /* The daemon's log is logfmt: the quotes in its messages are escaped (\"). */
    dt_daemon d;
    if (!dt_start_checked(&d, exe, dir, args, NULL, "statestored"))
        return dt_teardown(dir, "test_component_config");
    CHECK(dt_log_contains(&d, "unknown property \\\"colour\\\""),
          "the control property was not warned about");
    CHECK(!dt_log_contains(&d, "unknown property \\\"actorStateStore\\\""),
          "actorStateStore reached the driver");
    CHECK(!dt_log_contains(&d, "unknown property \\\"keyPrefix\\\""),
          "keyPrefix reached the driver");
    CHECK(dt_log_contains(
              &d, "state store \\\"shared\\\" ready: driver sqlite, key prefix \\\"team||\\\""),
          "the daemon's key prefix");

    dt_resp r;
    CHECK(dt_req(&d, &r, "POST", "/v1.0/state/shared",
                 "[{\"key\":\"k\",\"value\":\"from http\"}]") == 204,
          "save %ld %s", r.status, r.body);

    /* The CLI on the same component file: no warning, and the key the daemon stored is
     * "team||k" (the CLI does no prefixing). */
    run_result cr;
    const char *get_raw[] = {"--resources-path", res, "--store", "shared", "get", "team||k", NULL};
    run_cli(&cr, cli, dir, get_raw);
    CHECK(cr.status == 0 && strcmp(cr.out, "\"from http\"") == 0, "CLI get team||k: %d %s %s",
          cr.status, cr.out, cr.err);
    CHECK(!dt_contains(cr.err, "unknown property") && !dt_contains(cr.err, "warning"),
          "CLI stderr: %s", cr.err);
    const char *get_plain[] = {
        "--resources-path", res, "--store", "shared", "-q", "get", "k", NULL};
    run_cli(&cr, cli, dir, get_plain);
    CHECK(cr.status == 3, "CLI get k (not prefixed): exit %d %s", cr.status, cr.err);
    const char *set_raw[] = {"--resources-path", res, "--store", "shared", "set", "team||k2",
                             "\"from cli\"",     NULL};
    run_cli(&cr, cli, dir, set_raw);
    CHECK(cr.status == 0 && !dt_contains(cr.err, "unknown property"), "CLI set: %d %s", cr.status,
          cr.err);
    CHECK(dt_req(&d, &r, "GET", "/v1.0/state/shared/k2", NULL) == 200 &&
              strcmp(r.body, "\"from cli\"") == 0,
          "the daemon reads the CLI's write: %ld %s", r.status, r.body);
    /* The CLI's control: its warning channel works. */
    const char *get_control[] = {"--resources-path", res, "--store", "control", "get",
                                 "team||k",          NULL};
    run_cli(&cr, cli, dir, get_control);
    CHECK(cr.status == 0 && dt_contains(cr.err, "unknown property \"colour\""),
          "CLI control: %d %s", cr.status, cr.err);

    CHECK(dt_stop(&d) == 0, "SIGTERM exit status");
    if (dt_failures) dt_dump_log(&d);
    return dt_teardown(dir, "test_component_config");
}
