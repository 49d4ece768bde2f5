/*
 * ss_conformance — the one behavioural suite every driver passes.
 *
 *   ss_conformance --driver NAME [--name INSTANCE] [--prop key=value]... [--case PATTERN]...
 *                  [--case-timeout SECONDS] [--hash-tag] [--list]
 *
 * Property values may contain ${VAR}, expanded from the environment; an unset variable means
 * the store's server was not started, so the run is skipped (exit 77) saying which script
 * starts it. Output: one "ok|FAIL|skip <case>..." line per case, then a summary line.
 * Exit status: 0 all passed or skipped, 1 a case failed, 2 bad usage, 77 skipped.
 *
 * cf_main is the whole program; conformance_main.c calls it, and so does the self-test (which
 * registers deliberately broken drivers first).
 */
#include "conformance.h"

#include <ctype.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define EXIT_SKIP  77
#define EXIT_USAGE 2

typedef struct table {
    const cf_case *cases;
    const size_t *count;
} table;

static const table tables[] = {
    {cf_cases_basic, &cf_cases_basic_count}, {cf_cases_data, &cf_cases_data_count},
    {cf_cases_etag, &cf_cases_etag_count},   {cf_cases_tx, &cf_cases_tx_count},
    {cf_cases_ttl, &cf_cases_ttl_count},
};

/* One selected case and its run. */
typedef struct slot {
    const cf_case *c;
    cf_t *t;
    const char *skip_reason; /* set when the store's features exclude the case */
    char skip_buf[160];
    pthread_t thread;
    bool threaded;
    atomic_llong started_ms; /* 0 = not running */
    atomic_bool done;
} slot;

typedef struct run {
    slot *slots;
    size_t n;
    int64_t case_timeout_ms;
    const char *driver;
    atomic_bool finished;
} run;

static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: ss_conformance --driver NAME [--name INSTANCE] [--prop key=value]...\n"
            "                      [--case PATTERN]... [--case-timeout SECONDS] [--hash-tag]\n"
            "                      [--list]\n"
            "  --prop values may contain ${VAR} (expanded from the environment; unset = skip)\n"
            "  --case takes a shell pattern (e.g. 'ttl-*'); repeat it to select several\n"
            "  --hash-tag puts the run's key prefix in braces, {cf...}, so that a Redis\n"
            "    cluster keeps every key of the run in one hash slot (multi-key transactions)\n");
}

/* ------------------------------------------------------------------------------------------ */
/* Property values                                                                            */
/* ------------------------------------------------------------------------------------------ */

/* Names whose service script is called differently. */
static const char *const script_aliases[][2] = {{"postgres", "postgresql"},
                                                {"mysql", "mariadb"},
                                                {"maria", "mariadb"},
                                                {"zk", "zookeeper"},
                                                {"cosmos", "cosmosdb"}};

static bool script_exists(const char *name)
{
#ifdef CF_SERVICES_DIR
    char path[512];
    snprintf(path, sizeof path, "%s/%s.sh", CF_SERVICES_DIR, name);
    return access(path, F_OK) == 0;
#else
    (void)name;
    return false;
#endif
}

/* Lower-cases var's words [first, first+count) joined by '-' (SS_TEST_REDIS_CLUSTER_ADDRS,
 * 2 words from word 2 -> "redis-cluster"); "" when it has fewer words. */
static void words(const char *var, size_t first, size_t count, char *out, size_t cap)
{
    size_t w = 0, n = 0;
    out[0] = '\0';
    for (const char *p = var; *p && n + 1 < cap; p++) {
        if (*p == '_') {
            if (++w >= first + count) break;
            if (w > first) out[n++] = '-';
            continue;
        }
        if (w >= first) out[n++] = (char)tolower((unsigned char)*p);
    }
    out[n] = '\0';
    if (w < first + count) out[0] = '\0'; /* the last word is the variable's own name */
}

/*
 * The service script that sets SS_TEST_<NAME>[_<MORE>]_...: the first that exists in
 * scripts/services of <name>-<more>, <name>, its alias, the driver, its alias; else <name>.
 */
static void script_for(const char *var, const char *driver, char *out, size_t cap)
{
    char two[64] = "", one[64] = "";
    if (strncmp(var, "SS_TEST_", 8) == 0) {
        words(var, 2, 2, two, sizeof two);
        words(var, 2, 1, one, sizeof one);
    }
    const char *cands[5] = {two, one[0] ? one : driver, NULL, driver, NULL};
    for (size_t a = 0; a < sizeof script_aliases / sizeof script_aliases[0]; a++) {
        if (strcmp(cands[1], script_aliases[a][0]) == 0) cands[2] = script_aliases[a][1];
        if (strcmp(driver, script_aliases[a][0]) == 0) cands[4] = script_aliases[a][1];
    }
    for (size_t i = 0; i < 5; i++) {
        if (cands[i] && cands[i][0] && script_exists(cands[i])) {
            snprintf(out, cap, "%s", cands[i]);
            return;
        }
    }
    snprintf(out, cap, "%s", cands[2] ? cands[2] : cands[1]);
}

/*
 * Expands ${VAR} in `in`. Returns a malloc'd string, or NULL after printing why: *skip is set
 * when a variable is unset (the run is skipped), else the text was malformed.
 */
static char *expand(const char *in, const char *driver, bool *skip)
{
    size_t cap = strlen(in) + 1, len = 0;
    char *out = malloc(cap);
    if (!out) return NULL;
    for (const char *p = in; *p;) {
        const char *piece = p;
        size_t plen = 1;
        if (p[0] == '$' && p[1] == '{') {
            const char *close = strchr(p + 2, '}');
            if (!close || close == p + 2) {
                fprintf(stderr, "ss_conformance: bad variable reference in --prop \"%s\"\n", in);
                free(out);
                return NULL;
            }
            char name[256];
            size_t nlen = (size_t)(close - (p + 2));
            if (nlen >= sizeof name) nlen = sizeof name - 1;
            memcpy(name, p + 2, nlen);
            name[nlen] = '\0';
            const char *val = getenv(name);
            if (!val) {
                char script[128];
                script_for(name, driver, script, sizeof script);
                if (script_exists(script))
                    printf("skip: %s is not set (start the server with scripts/services/%s.sh)\n",
                           name, script);
                else /* Consul, SQL Server: no server of theirs can run in this environment */
                    printf("skip: %s is not set (no %s server can run here; set it to a real "
                           "server's address to run the suite)\n",
                           name, driver);
                *skip = true;
                free(out);
                return NULL;
            }
            piece = val;
            plen = strlen(val);
            p = close + 1;
        } else {
            p++;
        }
        if (len + plen + 1 > cap) {
            cap = (len + plen + 1) * 2;
            char *grown = realloc(out, cap);
            if (!grown) {
                free(out);
                return NULL;
            }
            out = grown;
        }
        memcpy(out + len, piece, plen);
        len += plen;
    }
    out[len] = '\0';
    return out;
}

/* ------------------------------------------------------------------------------------------ */
/* Running                                                                                    */
/* ------------------------------------------------------------------------------------------ */

static int64_t mono_ms(void)
{
    return cf_now_ms();
}

/* "cf" + a version-4 UUID's 32 hex digits; in braces ("{cf...}") for --hash-tag. */
static void make_prefix(char out[40], bool hash_tag)
{
    unsigned char b[16] = {0};
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    ssize_t got = fd >= 0 ? read(fd, b, sizeof b) : -1;
    if (fd >= 0) close(fd);
    if (got != (ssize_t)sizeof b) {
        /* Without a random source, time and pid still keep concurrent runs apart. */
        uint64_t x = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32) ^ (uint64_t)mono_ms();
        for (size_t i = 0; i < sizeof b; i++) {
            x = x * 6364136223846793005ull + 1442695040888963407ull;
            b[i] = (unsigned char)(x >> 56);
        }
    }
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* a version-4 UUID, as Dapr's suite uses */
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    size_t o = 0;
    if (hash_tag) out[o++] = '{';
    out[o++] = 'c';
    out[o++] = 'f';
    for (size_t i = 0; i < sizeof b; i++, o += 2) snprintf(out + o, 3, "%02x", b[i]);
    if (hash_tag) out[o++] = '}';
    out[o] = '\0';
}

static void print_result(const slot *s)
{
    pthread_mutex_lock(&out_lock);
    if (s->skip_reason) {
        printf("skip %s: %s\n", s->c->name, s->skip_reason);
    } else {
        switch (cf_case_status(s->t)) {
        case CF_PASS:
            printf("ok %s\n", s->c->name);
            break;
        case CF_FAIL:
            printf("FAIL %s: %s\n", s->c->name, cf_case_message(s->t));
            break;
        case CF_SKIP:
            printf("skip %s: %s\n", s->c->name, cf_case_message(s->t));
            break;
        }
    }
    fflush(stdout);
    pthread_mutex_unlock(&out_lock);
}

static void run_slot(slot *s)
{
    atomic_store(&s->started_ms, mono_ms());
    cf_case_run(s->t);
    atomic_store(&s->done, true);
}

static void *slot_thread(void *arg)
{
    run_slot(arg);
    return NULL;
}

/* Bounds every case in time: a call that hangs fails its case and ends the run. */
static void *watchdog(void *arg)
{
    run *r = arg;
    while (!atomic_load(&r->finished)) {
        int64_t now = mono_ms();
        for (size_t i = 0; i < r->n; i++) {
            slot *s = &r->slots[i];
            int64_t t0 = atomic_load(&s->started_ms);
            if (!t0 || atomic_load(&s->done) || now - t0 <= r->case_timeout_ms) continue;
            pthread_mutex_lock(&out_lock);
            printf("FAIL %s: did not finish within %lld s (a call into the store hangs?)\n",
                   s->c->name, (long long)(r->case_timeout_ms / 1000));
            printf("%s: run aborted by the case time limit\n", r->driver);
            fflush(stdout);
            _exit(1);
        }
        cf_sleep_ms(100);
    }
    return NULL;
}

static const char *missing_features(const ss_features *f, unsigned needs, char *buf, size_t cap)
{
    size_t o = 0;
    for (unsigned bit = 1; bit; bit <<= 1) {
        if (!(needs & bit) || (f->flags & bit)) continue;
        const char *name = ss_feature_name(bit);
        o += (size_t)snprintf(buf + o, cap - o, "%s%s", o ? ", " : "", name ? name : "?");
        if (o >= cap) break;
    }
    return o ? buf : NULL;
}

static void log_to_stderr(void *ctx, ss_log_level level, const char *message)
{
    static const char *names[] = {"error", "warn", "info", "debug"};
    fprintf(stderr, "# %s: %s\n", (unsigned)level < 4 ? names[level] : "log", message);
}

static bool selected(const cf_case *c, char **patterns, size_t npat)
{
    if (!npat) return true;
    for (size_t i = 0; i < npat; i++)
        if (fnmatch(patterns[i], c->name, 0) == 0) return true;
    return false;
}

static void list_cases(void)
{
    for (size_t ti = 0; ti < sizeof tables / sizeof tables[0]; ti++) {
        for (size_t i = 0; i < *tables[ti].count; i++) {
            const cf_case *c = &tables[ti].cases[i];
            char needs[128] = "";
            size_t o = 0;
            for (unsigned bit = 1; bit; bit <<= 1)
                if (c->needs & bit)
                    o += (size_t)snprintf(needs + o, sizeof needs - o, "%s%s", o ? "," : "",
                                          ss_feature_name(bit));
            printf("%-32s %-24s %s\n", c->name, o ? needs : "-", c->doc);
        }
    }
}

static void print_header(const cf_env *env)
{
    printf("# conformance: driver %s, instance \"%s\", library %s\n", env->driver, env->name,
           ss_version());
    printf("# declared features:");
    bool any = false;
    for (unsigned bit = 1; bit; bit <<= 1) {
        if (!(env->feat.flags & bit)) continue;
        const char *fname = ss_feature_name(bit);
        printf(" %s", fname ? fname : "?");
        any = true;
    }
    printf("%s; max_tx_ops %zu, max_key_len %zu, max_value_len %zu (0 = no limit)\n",
           any ? "" : " none", env->feat.max_tx_ops, env->feat.max_key_len,
           env->feat.max_value_len);
    printf("# every key starts with $P = %s\n", env->prefix);
    fflush(stdout);
}

typedef struct options {
    const char *driver;
    const char *name;
    char **props; /* key=value, before ${VAR} expansion */
    size_t nprops;
    char **patterns;
    size_t npat;
    long case_timeout_s;
    bool hash_tag;
    bool list;
} options;

static int run_suite(const options *opt)
{
    const char *driver = opt->driver, *name = opt->name;
    char **raw = opt->props;
    size_t nraw = opt->nprops;
    int status = EXIT_USAGE;
    ss_pair *props = calloc(nraw + 1, sizeof *props);
    char **strings = calloc(2 * nraw + 1, sizeof *strings); /* what props point into */
    ss_store *store = NULL;
    slot *slots = NULL;
    size_t nslots = 0;
    cf_env env = {0};
    if (!props || !strings) {
        fprintf(stderr, "ss_conformance: out of memory\n");
        status = 1;
        goto out;
    }

    for (size_t i = 0; i < nraw; i++) {
        const char *eq = strchr(raw[i], '=');
        if (!eq || eq == raw[i]) {
            fprintf(stderr, "ss_conformance: --prop wants key=value, got \"%s\"\n", raw[i]);
            goto out;
        }
        bool skip = false;
        char *key = strndup(raw[i], (size_t)(eq - raw[i]));
        char *value = expand(eq + 1, driver, &skip);
        strings[2 * i] = key;
        strings[2 * i + 1] = value;
        if (!key || !value) {
            status = skip ? EXIT_SKIP : EXIT_USAGE;
            goto out;
        }
        props[i].name = key;
        props[i].value = value;
    }

    ss_driver_info info;
    if (!ss_driver_find(driver, &info)) {
        fprintf(stderr, "ss_conformance: no driver \"%s\" in this build; it has:", driver);
        for (size_t i = 0; i < ss_driver_count(); i++)
            if (ss_driver_at(i, &info)) fprintf(stderr, " %s", info.name);
        fprintf(stderr, "\n");
        goto out;
    }

    ss_config cfg = {.driver = driver,
                     .name = name,
                     .properties = props,
                     .property_count = nraw,
                     .log = log_to_stderr,
                     .log_level = SS_LOG_WARN};
    ss_error err = {0};
    ss_code rc = ss_open(&store, &cfg, &err);
    if (rc != SS_OK) {
        printf("FAIL open: ss_open(driver \"%s\") returned %s: %s\n", driver, ss_code_name(rc),
               err.message);
        printf("%s: 0 passed, 1 failed, 0 skipped\n", driver);
        status = 1;
        goto out;
    }
    if (!store) {
        printf("FAIL open: ss_open returned OK without a store\n");
        printf("%s: 0 passed, 1 failed, 0 skipped\n", driver);
        status = 1;
        goto out;
    }

    env.store = store;
    env.asked_driver = driver;
    env.asked_name = name;
    env.driver = ss_store_driver(store) ? ss_store_driver(store) : driver;
    env.name = ss_store_name(store) ? ss_store_name(store) : driver;
    ss_store_features(store, &env.feat);
    make_prefix(env.prefix, opt->hash_tag);

    size_t total = 0;
    for (size_t ti = 0; ti < sizeof tables / sizeof tables[0]; ti++) total += *tables[ti].count;
    slots = calloc(total ? total : 1, sizeof *slots);
    if (!slots) {
        status = 1;
        goto out;
    }
    for (size_t ti = 0; ti < sizeof tables / sizeof tables[0]; ti++) {
        for (size_t i = 0; i < *tables[ti].count; i++) {
            const cf_case *c = &tables[ti].cases[i];
            if (!selected(c, opt->patterns, opt->npat)) continue;
            slot *s = &slots[nslots++];
            s->c = c;
            s->t = cf_case_new(&env, c);
        }
    }
    if (!nslots) {
        fprintf(stderr, "ss_conformance: no case matches the --case patterns (see --list)\n");
        goto out;
    }

    print_header(&env);
    for (size_t i = 0; i < nslots; i++) {
        char buf[128];
        const char *miss = missing_features(&env.feat, slots[i].c->needs, buf, sizeof buf);
        if (!miss) continue;
        snprintf(slots[i].skip_buf, sizeof slots[i].skip_buf, "store does not declare %s", miss);
        slots[i].skip_reason = slots[i].skip_buf;
    }

    run r = {.slots = slots,
             .n = nslots,
             .case_timeout_ms = opt->case_timeout_s * 1000,
             .driver = env.driver};
    pthread_t dog;
    bool dog_running = pthread_create(&dog, NULL, watchdog, &r) == 0;

    /* The slow cases mostly wait for TTLs to pass, so they wait together, beside the rest. */
    for (size_t i = 0; i < nslots; i++) {
        slot *s = &slots[i];
        if (s->skip_reason || !(s->c->flags & CF_SLOW)) continue;
        s->threaded = pthread_create(&s->thread, NULL, slot_thread, s) == 0;
    }
    for (size_t i = 0; i < nslots; i++) {
        slot *s = &slots[i];
        if (s->c->flags & CF_SLOW) continue;
        if (!s->skip_reason) run_slot(s);
        print_result(s);
    }
    for (size_t i = 0; i < nslots; i++) {
        slot *s = &slots[i];
        if (!(s->c->flags & CF_SLOW)) continue;
        if (s->threaded) {
            pthread_join(s->thread, NULL);
        } else if (!s->skip_reason) {
            run_slot(s);
        }
        print_result(s);
    }
    atomic_store(&r.finished, true);
    if (dog_running) pthread_join(dog, NULL);

    char msg[1024];
    size_t left = cf_cleanup(&env, msg, sizeof msg);
    if (left)
        fprintf(stderr, "# warning: %zu keys could not be deleted at the end; first: %s\n", left,
                msg);

    size_t passed = 0, failed = 0, skipped = 0;
    for (size_t i = 0; i < nslots; i++) {
        if (slots[i].skip_reason) {
            skipped++;
            continue;
        }
        switch (cf_case_status(slots[i].t)) {
        case CF_PASS:
            passed++;
            break;
        case CF_FAIL:
            failed++;
            break;
        case CF_SKIP:
            skipped++;
            break;
        }
    }
    printf("%s: %zu passed, %zu failed, %zu skipped\n", env.driver, passed, failed, skipped);
    fflush(stdout);
    status = failed ? 1 : 0;

out:
    for (size_t i = 0; i < nslots; i++) cf_case_free(slots[i].t);
    free(slots);
    ss_close(store);
    cf_keys_free();
    for (size_t i = 0; strings && i < 2 * nraw; i++) free(strings[i]);
    free(strings);
    free(props);
    return status;
}

int cf_main(int argc, char **argv)
{
    options opt = {.case_timeout_s = 120};
    opt.props = calloc((size_t)argc, sizeof *opt.props);
    opt.patterns = calloc((size_t)argc, sizeof *opt.patterns);
    int status = EXIT_USAGE;
    if (!opt.props || !opt.patterns) {
        fprintf(stderr, "ss_conformance: out of memory\n");
        status = 1;
        goto out;
    }

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool has_val = i + 1 < argc;
        if (strcmp(a, "--list") == 0) {
            opt.list = true;
        } else if (strcmp(a, "--hash-tag") == 0) {
            opt.hash_tag = true;
        } else if (strcmp(a, "--driver") == 0 && has_val) {
            opt.driver = argv[++i];
        } else if (strcmp(a, "--name") == 0 && has_val) {
            opt.name = argv[++i];
        } else if (strcmp(a, "--prop") == 0 && has_val) {
            opt.props[opt.nprops++] = argv[++i];
        } else if (strcmp(a, "--case") == 0 && has_val) {
            opt.patterns[opt.npat++] = argv[++i];
        } else if (strcmp(a, "--case-timeout") == 0 && has_val) {
            char *end = NULL;
            opt.case_timeout_s = strtol(argv[++i], &end, 10);
            if (!end || *end || opt.case_timeout_s <= 0) {
                fprintf(stderr,
                        "ss_conformance: --case-timeout wants a positive number of "
                        "seconds, got \"%s\"\n",
                        argv[i]);
                goto out;
            }
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            status = 0;
            goto out;
        } else {
            fprintf(stderr, "ss_conformance: unknown or incomplete argument \"%s\"\n", a);
            usage(stderr);
            goto out;
        }
    }
    if (opt.list) {
        list_cases();
        status = 0;
        goto out;
    }
    if (!opt.driver) {
        fprintf(stderr, "ss_conformance: --driver is required\n");
        usage(stderr);
        goto out;
    }
    status = run_suite(&opt);
out:
    free(opt.props);
    free(opt.patterns);
    return status;
}
