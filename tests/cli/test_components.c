/*
 * test_components.c — the Dapr component YAML loader: valid files, every kind of error with
 * its file:line: field message, environment and secret references, several documents and
 * files, skipped kinds, and hostile input (which must fail cleanly, never crash).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clitest.h"
#include "components/components.h"

static char tmpdir[256];

static ss_code parse(ss_component_list *l, const char *text, ss_error *err)
{
    memset(l, 0, sizeof *l);
    memset(err, 0, sizeof *err);
    return ss_components_parse(l, text, strlen(text), "c.yaml", err);
}

/* Parses text that must fail and checks the message contains `want`. */
#define T_PARSE_FAILS(text, want)                                                                  \
    do {                                                                                           \
        ss_component_list l_;                                                                      \
        ss_error e_;                                                                               \
        ss_code rc_ = parse(&l_, (text), &e_);                                                     \
        T_INT(rc_, SS_INVALID);                                                                    \
        T_INT(l_.count, 0);                                                                        \
        T_CONTAINS(e_.message, (want));                                                            \
        ss_component_list_free(&l_);                                                               \
    } while (0)

static void write_file(const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "wb");
    if (!f) {
        perror(path);
        exit(1);
    }
    fwrite(text, 1, strlen(text), f);
    fclose(f);
}

static void remove_file(const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    unlink(path);
}

static const char VALID[] = "apiVersion: dapr.io/v1alpha1\n"
                            "kind: Component\n"
                            "metadata:\n"
                            "  name: orders\n"
                            "  namespace: prod\n"
                            "spec:\n"
                            "  type: state.redis\n"
                            "  version: v1\n"
                            "  metadata:\n"
                            "  - name: redisHost\n"
                            "    value: localhost:6379\n"
                            "  - name: maxRetries\n"
                            "    value: 5\n"
                            "  - name: enableTLS\n"
                            "    value: false\n"
                            "  - name: quoted\n"
                            "    value: \"  spaced  \"\n"
                            "  - name: nothing\n"
                            "  - name: nullish\n"
                            "    value: ~\n"
                            "  - name: block\n"
                            "    value: |\n"
                            "      line1\n"
                            "      line2\n"
                            "scopes:\n"
                            "- app1\n"
                            "- app2\n";

static void test_valid(void)
{
    ss_component_list l;
    ss_error e;
    T_INT(parse(&l, VALID, &e), SS_OK);
    T_INT(l.count, 1);
    if (l.count == 1) {
        const ss_component *c = &l.items[0];
        T_STR(c->name, "orders");
        T_STR(c->driver, "redis");
        T_STR(c->version, "v1");
        T_STR(c->file, "c.yaml");
        T_INT(c->line, 1);
        T_INT(c->property_count, 7);
        T_STR(ss_component_prop(c, "redisHost"), "localhost:6379");
        T_STR(ss_component_prop(c, "REDISHOST"), "localhost:6379"); /* case-insensitive */
        T_STR(ss_component_prop(c, "maxRetries"), "5");
        T_STR(ss_component_prop(c, "enableTLS"), "false");
        T_STR(ss_component_prop(c, "quoted"), "  spaced  ");
        T_STR(ss_component_prop(c, "nothing"), "");
        T_STR(ss_component_prop(c, "nullish"), "");
        T_STR(ss_component_prop(c, "block"), "line1\nline2\n");
        T_CHECK(ss_component_prop(c, "absent") == NULL);
        T_INT(c->scope_count, 2);
        if (c->scope_count == 2) {
            T_STR(c->scopes[0], "app1");
            T_STR(c->scopes[1], "app2");
        }
    }
    ss_component_list_free(&l);
    ss_component_list_free(&l); /* a second free of a freed list is harmless */
    ss_component_list_free(NULL);
    T_CHECK(ss_component_prop(NULL, "x") == NULL);

    /* No spec.metadata and no scopes at all; field names in another case (as Dapr accepts). */
    T_INT(parse(&l,
                "apiVersion: dapr.io/v1alpha1\nKind: Component\nMetadata: {name: s}\n"
                "spec: {type: state.memory}\n",
                &e),
          SS_OK);
    T_INT(l.count, 1);
    if (l.count == 1) {
        T_CHECK(l.items[0].version == NULL);
        T_CHECK(l.items[0].scopes == NULL);
        T_INT(l.items[0].property_count, 0);
    }
    ss_component_list_free(&l);

    /* An empty file and a comment-only file hold no components and are fine. */
    T_INT(parse(&l, "", &e), SS_OK);
    T_INT(l.count, 0);
    T_INT(parse(&l, "# nothing here\n", &e), SS_OK);
    T_INT(l.count, 0);
    T_INT(ss_components_parse(&l, NULL, 0, "x", &e), SS_OK);
}

static void test_multi_document(void)
{
    const char *text = "apiVersion: dapr.io/v1alpha1\n"
                       "kind: Component\n"
                       "metadata: {name: one}\n"
                       "spec: {type: state.sqlite, version: v1}\n"
                       "---\n"
                       "apiVersion: dapr.io/v1alpha1\n"
                       "kind: Component\n"
                       "metadata: {name: pubsub}\n"
                       "spec: {type: pubsub.redis, version: v1}\n"
                       "---\n"
                       "apiVersion: dapr.io/v1alpha1\n"
                       "kind: Configuration\n"
                       "metadata: {name: cfg}\n"
                       "spec: {tracing: {samplingRate: \"1\"}}\n"
                       "---\n"
                       "---\n"
                       "kind: Resiliency\n"
                       "whatever: [1, 2]\n"
                       "---\n"
                       "apiVersion: dapr.io/v1alpha1\n"
                       "kind: Component\n"
                       "metadata: {name: two}\n"
                       "spec:\n"
                       "  type: state.memory\n"
                       "  version: v1\n"
                       "  metadata: []\n";
    ss_component_list l;
    ss_error e;
    T_INT(parse(&l, text, &e), SS_OK);
    T_INT(l.count, 2);
    if (l.count == 2) {
        T_STR(l.items[0].name, "one");
        T_STR(l.items[0].driver, "sqlite");
        T_INT(l.items[0].line, 1);
        T_STR(l.items[1].name, "two");
        T_STR(l.items[1].driver, "memory");
        T_INT(l.items[1].line, 19);
    }
    ss_component_list_free(&l);

    /* A store name used twice in one file. */
    T_PARSE_FAILS("apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata: {name: a}\n"
                  "spec: {type: state.memory}\n---\n"
                  "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata: {name: a}\n"
                  "spec: {type: state.sqlite}\n",
                  "c.yaml:5: metadata.name: store \"a\" is already defined in c.yaml:1");
}

static void test_env_and_secrets(void)
{
    setenv("SSTEST_HOST", "db.example:6379", 1);
    setenv("SSTEST_PW", "s3cret", 1);
    setenv("redis_password", "k8s-style", 1);
    unsetenv("SSTEST_UNSET");
    const char *text = "apiVersion: dapr.io/v1alpha1\n"
                       "kind: Component\n"
                       "metadata: {name: s}\n"
                       "spec:\n"
                       "  type: state.redis\n"
                       "  metadata:\n"
                       "  - name: redisHost\n"
                       "    envRef: SSTEST_HOST\n"
                       "  - name: redisPassword\n"
                       "    secretKeyRef: {name: SSTEST_PW, key: SSTEST_PW}\n"
                       "  - name: p2\n"
                       "    secretKeyRef: {name: SSTEST_PW}\n"
                       "  - name: p3\n"
                       "    secretKeyRef:\n"
                       "      name: redis\n"
                       "      key: password\n";
    ss_component_list l;
    ss_error e;
    T_INT(parse(&l, text, &e), SS_OK);
    if (l.count == 1) {
        T_STR(ss_component_prop(&l.items[0], "redisHost"), "db.example:6379");
        T_STR(ss_component_prop(&l.items[0], "redisPassword"), "s3cret");
        T_STR(ss_component_prop(&l.items[0], "p2"), "s3cret");
        T_STR(ss_component_prop(&l.items[0], "p3"), "k8s-style");
    }
    ss_component_list_free(&l);

    const char *head = "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata: {name: s}\n"
                       "spec:\n  type: state.redis\n  metadata:\n";
    char buf[1024];
    snprintf(buf, sizeof buf, "%s  - name: a\n    envRef: SSTEST_UNSET\n", head);
    T_PARSE_FAILS(buf, "c.yaml:8: spec.metadata[0].envRef: environment variable \"SSTEST_UNSET\" "
                       "is not set");
    snprintf(buf, sizeof buf, "%s  - name: a\n    secretKeyRef: {name: SSTEST_UNSET}\n", head);
    T_PARSE_FAILS(buf, "spec.metadata[0].secretKeyRef: secret environment variable "
                       "\"SSTEST_UNSET\" is not set");
    snprintf(buf, sizeof buf, "%s  - name: a\n    secretKeyRef: {name: SSTEST_PW, key: other}\n",
             head);
    T_PARSE_FAILS(buf, "\"SSTEST_PW_other\" is not set");
    setenv("DAPR_API_TOKEN", "x", 1);
    snprintf(buf, sizeof buf, "%s  - name: a\n    secretKeyRef: {name: DAPR_API_TOKEN}\n", head);
    T_PARSE_FAILS(buf, "may not be used as a secret");
    unsetenv("DAPR_API_TOKEN");
    snprintf(buf, sizeof buf, "%s  - name: a\n    secretKeyRef: {key: x}\n", head);
    T_PARSE_FAILS(buf, "c.yaml:8: spec.metadata[0].secretKeyRef: missing \"name\"");
    snprintf(buf, sizeof buf, "%s  - name: a\n    secretKeyRef: plain\n", head);
    T_PARSE_FAILS(buf, "spec.metadata[0].secretKeyRef: expected a mapping");
    snprintf(buf, sizeof buf, "%s  - name: a\n    value: v\n    envRef: SSTEST_HOST\n", head);
    T_PARSE_FAILS(buf, "c.yaml:7: spec.metadata[0]: \"a\" has more than one of");

    /* A secret's value never appears in a message. */
    snprintf(buf, sizeof buf,
             "%s  - name: a\n    secretKeyRef: {name: SSTEST_PW}\n  - name: a\n    value: x\n",
             head);
    ss_component_list l2;
    parse(&l2, buf, &e);
    T_CONTAINS(e.message, "property \"a\" is given twice");
    T_CHECK(strstr(e.message, "s3cret") == NULL);
    ss_component_list_free(&l2);
}

static void test_errors(void)
{
    /* The example from the task: the third metadata item has no name, on line 7. */
    T_PARSE_FAILS("apiVersion: dapr.io/v1alpha1\n"
                  "kind: Component\n"
                  "metadata: {name: r}\n"
                  "spec:\n"
                  "  type: state.redis\n"
                  "  metadata: [{name: a, value: 1}, {name: b, value: 2},\n"
                  "             {value: 3}]\n",
                  "c.yaml:7: spec.metadata[2]: missing \"name\"");

    const char *h = "apiVersion: dapr.io/v1alpha1\nkind: Component\n";
    char buf[2048];
#define WITH(body) (snprintf(buf, sizeof buf, "%s%s", h, body), buf)
    T_PARSE_FAILS(WITH("spec: {type: state.redis}\n"), "c.yaml:1: document: missing \"metadata\"");
    T_PARSE_FAILS(WITH("metadata: {namespace: x}\nspec: {type: state.redis}\n"),
                  "c.yaml:3: metadata: missing \"name\"");
    T_PARSE_FAILS(WITH("metadata: {name: \"\"}\nspec: {type: state.redis}\n"),
                  "c.yaml:3: metadata.name: must not be empty");
    T_PARSE_FAILS(WITH("metadata: {name: [a]}\nspec: {type: state.redis}\n"),
                  "c.yaml:3: metadata.name: expected a string, found a sequence");
    T_PARSE_FAILS(WITH("metadata: {name: \"a/b\"}\nspec: {type: state.redis}\n"),
                  "metadata.name: \"a/b\" is not a valid store name");
    T_PARSE_FAILS(WITH("metadata: {name: a}\n"), "c.yaml:1: document: missing \"spec\"");
    T_PARSE_FAILS(WITH("metadata: {name: a}\nspec: [1]\n"),
                  "c.yaml:4: spec: expected a mapping, found a sequence");
    T_PARSE_FAILS(WITH("metadata: {name: a}\nspec: {version: v1}\n"),
                  "c.yaml:4: spec: missing \"type\"");
    T_PARSE_FAILS(WITH("metadata: {name: a}\nspec: {type: state.}\n"),
                  "spec.type: \"state.\" names no driver");
    T_PARSE_FAILS(WITH("metadata: {name: a}\nspec: {type: state.x, metadata: {a: b}}\n"),
                  "c.yaml:4: spec.metadata: expected a sequence, found a mapping");
    T_PARSE_FAILS(WITH("metadata: {name: a}\nspec:\n  type: state.x\n  metadata:\n  - just text\n"),
                  "c.yaml:7: spec.metadata[0]: expected a mapping");
    T_PARSE_FAILS(WITH("metadata: {name: a}\nspec:\n  type: state.x\n  metadata:\n"
                       "  - name: a\n    value: {x: 1}\n"),
                  "c.yaml:8: spec.metadata[0].value: expected a scalar, found a mapping");
    T_PARSE_FAILS(WITH("metadata: {name: a}\nspec:\n  type: state.x\n  metadata:\n"
                       "  - name: a\n    value: 1\n  - name: A\n    value: 2\n"),
                  "c.yaml:9: spec.metadata[1]: property \"A\" is given twice");
    T_PARSE_FAILS(WITH("metadata: {name: a}\nspec: {type: state.x}\nscopes: app1\n"),
                  "c.yaml:5: scopes: expected a sequence, found a scalar");
    T_PARSE_FAILS(WITH("metadata: {name: a}\nspec: {type: state.x}\nscopes: [a, [b]]\n"),
                  "c.yaml:5: scopes[1]: expected an app id string");
    T_PARSE_FAILS(WITH("metadata: {name: a}\nmetadata: {name: b}\nspec: {type: state.x}\n"),
                  "c.yaml:4: metadata: duplicate key");
    T_PARSE_FAILS(WITH("metadata: {name: a}\nspec: {type: state.x}\n? [complex]\n: key\n"),
                  "mapping key is a sequence");
#undef WITH
    T_PARSE_FAILS("apiVersion: dapr.io/v1alpha1\nmetadata: {name: a}\n",
                  "c.yaml:1: document: missing \"kind\"");
    T_PARSE_FAILS("apiVersion: dapr.io/v2\nkind: Component\nmetadata: {name: a}\n"
                  "spec: {type: state.x}\n",
                  "c.yaml:1: apiVersion: \"dapr.io/v2\" is not supported");
    T_PARSE_FAILS("kind: Component\nmetadata: {name: a}\nspec: {type: state.x}\n",
                  "missing \"apiVersion\"");
    T_PARSE_FAILS("- a\n- b\n", "c.yaml:1: document: expected a mapping, found a sequence");
    T_PARSE_FAILS("just a string\n", "document: expected a mapping, found a scalar");
    T_PARSE_FAILS("apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata: {name: a\n",
                  "c.yaml:4:1: invalid YAML");
    T_PARSE_FAILS("a: b\n  c: d\n", "invalid YAML");
    T_PARSE_FAILS("apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata: &m {name: a}\n"
                  "spec: {type: state.x, metadata: [{name: b, value: *m}]}\n",
                  "spec.metadata[0].value: expected a scalar, found an alias");
    /* A NUL byte is not allowed in YAML text. */
    ss_component_list l;
    ss_error e;
    T_INT(ss_components_parse(&l, "kind: C\0omponent\n", 17, "nul.yaml", &e), SS_INVALID);
    T_CONTAINS(e.message, "nul.yaml:1:");

    /* A bad document after a good one adds nothing (all or nothing per file). */
    memset(&l, 0, sizeof l);
    const char *two = "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata: {name: a}\n"
                      "spec: {type: state.x}\n---\nkind: Component\n";
    T_INT(ss_components_parse(&l, two, strlen(two), "c.yaml", &e), SS_INVALID);
    T_INT(l.count, 0);
    T_CHECK(l.items == NULL);

    /* NULL arguments are INVALID, not a crash. */
    T_INT(ss_components_parse(NULL, "x", 1, "o", &e), SS_INVALID);
    T_INT(ss_components_parse(&l, NULL, 3, "o", NULL), SS_INVALID);
    T_INT(ss_components_load_file(&l, NULL, &e), SS_INVALID);
    T_INT(ss_components_load_dir(&l, NULL, NULL), SS_INVALID);
}

static void test_files_and_dirs(void)
{
    ss_component_list l = {0};
    ss_error e = {0};
    char sub[512];
    snprintf(sub, sizeof sub, "%s/dir.yaml", tmpdir); /* a directory with a YAML name: skipped */
    mkdir(sub, 0700);
    write_file("b.yaml", "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata: {name: bee}\n"
                         "spec: {type: state.memory}\n");
    write_file("a.yml", "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata: {name: ay}\n"
                        "spec: {type: state.sqlite}\n");
    write_file("c.yaml", "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata: {name: sub}\n"
                         "spec: {type: pubsub.redis}\n");
    write_file("notes.txt", "not: [yaml");
    T_INT(ss_components_load_dir(&l, tmpdir, &e), SS_OK);
    T_INT(l.count, 2);
    if (l.count == 2) {
        T_STR(l.items[0].name, "ay"); /* a.yml sorts before b.yaml */
        T_STR(l.items[1].name, "bee");
        char want[512];
        snprintf(want, sizeof want, "%s/a.yml", tmpdir);
        T_STR(l.items[0].file, want);
    }
    ss_component_list_free(&l);

    /* Duplicate names across files: the message names both files. */
    write_file("d.yaml", "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata: {name: bee}\n"
                         "spec: {type: state.sqlite}\n");
    memset(&l, 0, sizeof l);
    T_INT(ss_components_load_dir(&l, tmpdir, &e), SS_INVALID);
    T_INT(l.count, 0);
    T_CONTAINS(e.message, "d.yaml:1: metadata.name: store \"bee\" is already defined in ");
    T_CONTAINS(e.message, "b.yaml:1");
    remove_file("d.yaml");

    /* An invalid file stops loading and names the file. */
    write_file("e.yaml", "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata: {name: e}\n"
                         "spec:\n  type: state.x\n  metadata:\n  - value: 1\n");
    T_INT(ss_components_load_dir(&l, tmpdir, &e), SS_INVALID);
    T_CONTAINS(e.message, "e.yaml:7: spec.metadata[0]: missing \"name\"");
    remove_file("e.yaml");

    char missing[512];
    snprintf(missing, sizeof missing, "%s/nope", tmpdir);
    T_INT(ss_components_load_dir(&l, missing, &e), SS_INVALID);
    T_CONTAINS(e.message, "nope");
    T_INT(ss_components_load_file(&l, missing, &e), SS_INVALID);
    T_CONTAINS(e.message, "nope");

    /* load_file appends; a second load of the same file is a duplicate. */
    char bpath[512];
    snprintf(bpath, sizeof bpath, "%s/b.yaml", tmpdir);
    T_INT(ss_components_load_file(&l, bpath, &e), SS_OK);
    T_INT(l.count, 1);
    T_INT(ss_components_load_file(&l, bpath, &e), SS_INVALID);
    T_INT(l.count, 1);
    ss_component_list_free(&l);

    remove_file("a.yml");
    remove_file("b.yaml");
    remove_file("c.yaml");
    remove_file("notes.txt");
    rmdir(sub);
}

/* Deterministic pseudo-random bytes (xorshift) so a failure can be replayed. */
static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void expect_clean_failure(const char *text, size_t len, const char *what)
{
    ss_component_list l = {0};
    ss_error e = {0};
    ss_code rc = ss_components_parse(&l, text, len, "hostile.yaml", &e);
    t_checks++;
    if (rc == SS_OK) {
        t_failures++;
        fprintf(stderr, "%s: parsed without error\n", what);
    }
    T_CHECK(e.message[0] != '\0');
    T_INT(l.count, 0);
    ss_component_list_free(&l);
}

static void test_hostile(void)
{
    /* Deep nesting: flow and block styles. */
    size_t n = 100000;
    char *deep = malloc(2 * n + 1);
    memset(deep, '[', n);
    memset(deep + n, ']', n);
    deep[2 * n] = '\0';
    expect_clean_failure(deep, 2 * n, "deep flow nesting");
    for (size_t i = 0; i < n; i++) deep[i] = (i % 2) ? ' ' : '-';
    /* "- - - - ... x": a sequence nested n/2 levels deep in block style */
    deep[n] = 'x';
    deep[n + 1] = '\0';
    expect_clean_failure(deep, n + 1, "deep block nesting");
    free(deep);

    /* A huge scalar (over the 1 MiB limit) inside an otherwise valid component. */
    size_t big = (1u << 20) + 100;
    const char *pre = "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata: {name: a}\n"
                      "spec:\n  type: state.x\n  metadata:\n  - name: a\n    value: ";
    char *huge = malloc(strlen(pre) + big + 2);
    strcpy(huge, pre);
    memset(huge + strlen(pre), 'v', big);
    huge[strlen(pre) + big] = '\n';
    huge[strlen(pre) + big + 1] = '\0';
    expect_clean_failure(huge, strlen(huge), "huge scalar");
    free(huge);

    /* More than the file limit. */
    size_t over = (4u << 20) + 1;
    char *large = malloc(over);
    memset(large, '#', over);
    expect_clean_failure(large, over, "file over the limit");
    free(large);

    /* Many small nodes. */
    size_t items = 300000;
    char *many = malloc(items * 3 + 3);
    size_t at = 0;
    many[at++] = '[';
    for (size_t i = 0; i < items; i++) {
        many[at++] = '1';
        many[at++] = ',';
    }
    many[at - 1] = ']';
    many[at] = '\0';
    expect_clean_failure(many, at, "too many nodes");
    free(many);

    /* Alias bombs and self-reference: never expanded, so they cost nothing. */
    const char *laughs = "a: &a [x, x, x, x, x, x, x, x, x]\n"
                         "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
                         "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
                         "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
                         "kind: [*d, *d]\n";
    expect_clean_failure(laughs, strlen(laughs), "billion laughs");
    const char *selfref = "kind: &k [*k]\n";
    expect_clean_failure(selfref, strlen(selfref), "self reference");

    /* Binary junk. */
    char junk[4096];
    for (int round = 0; round < 200; round++) {
        for (size_t i = 0; i < sizeof junk; i++) junk[i] = (char)(next_rand() & 0xff);
        ss_component_list l = {0};
        ss_error e = {0};
        ss_code rc = ss_components_parse(&l, junk, sizeof junk, "junk.yaml", &e);
        T_CHECK(rc != SS_OK || l.count == 0);
        ss_component_list_free(&l);
    }
    const char bad_utf8[] = "kind: \xff\xfe\xfd\n";
    expect_clean_failure(bad_utf8, sizeof bad_utf8 - 1, "invalid UTF-8");

    /* Mutations of a valid file: any outcome is fine as long as nothing crashes or leaks. */
    size_t vlen = strlen(VALID);
    char *m = malloc(vlen + 1);
    int ok = 0, failed = 0;
    for (int round = 0; round < 3000; round++) {
        memcpy(m, VALID, vlen + 1);
        int edits = 1 + (int)(next_rand() % 4);
        for (int k = 0; k < edits; k++) {
            size_t pos = next_rand() % vlen;
            static const char alphabet[] = "-:{}[]&*!|>'\"#%@`,? \n\tax0~";
            m[pos] = alphabet[next_rand() % (sizeof alphabet - 1)];
        }
        ss_component_list l = {0};
        ss_error e = {0};
        ss_code rc = ss_components_parse(&l, m, vlen, "mut.yaml", &e);
        if (rc == SS_OK)
            ok++;
        else
            failed++;
        if (rc != SS_OK) T_CHECK(e.message[0] != '\0' && l.count == 0);
        ss_component_list_free(&l);
    }
    free(m);
    printf("mutations: %d parsed, %d rejected\n", ok, failed);
}

/* One component with keyPrefix MODE (NULL: none given) and both runtime settings. */
static void store_config_case(const char *mode, const char *app_id, const char *want_prefix)
{
    char text[1024];
    snprintf(text, sizeof text,
             "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata:\n  name: orders\n"
             "spec:\n  type: state.redis\n  metadata:\n"
             "  - name: redisHost\n    value: h:1\n"
             "  - name: ActorStateStore\n    value: \"true\"\n"
             "  - name: ttlInSeconds\n    value: \"5\"\n%s%s%s",
             mode ? "  - name: KEYPREFIX\n    value: \"" : "", mode ? mode : "",
             mode ? "\"\n" : "");
    ss_component_list l;
    ss_error e;
    T_INT(parse(&l, text, &e), SS_OK);
    if (l.count != 1) {
        T_INT(l.count, 1);
        ss_component_list_free(&l);
        return;
    }
    ss_component_store cs;
    T_INT(ss_component_store_init(&cs, &l.items[0], app_id, &e), SS_OK);
    T_STR(cs.config.driver, "redis");
    T_STR(cs.config.name, "orders");
    /* the driver's properties in order, without the runtime settings (any case) */
    T_INT(cs.config.property_count, 2);
    if (cs.config.property_count == 2) {
        T_STR(cs.config.properties[0].name, "redisHost");
        T_STR(cs.config.properties[1].name, "ttlInSeconds");
    }
    if (want_prefix)
        T_STR(cs.key_prefix, want_prefix);
    else
        T_CHECK(cs.key_prefix == NULL);
    ss_component_store_dispose(&cs);
    ss_component_store_dispose(&cs); /* disposed twice is harmless */
    ss_component_list_free(&l);
}

/* ss_component_store_init: what statestored and the CLI both open a component with. */
static void test_store_config(void)
{
    unsetenv("NAMESPACE");
    store_config_case(NULL, "myapp", "myapp||"); /* appid is the default */
    store_config_case("AppID", "myapp", "myapp||");
    store_config_case(NULL, "", NULL);
    store_config_case("name", "myapp", "orders||");
    store_config_case("name", "", "orders||");
    store_config_case("none", "myapp", NULL);
    store_config_case("team", "myapp", "team||");
    store_config_case("", "myapp", "myapp||");
    store_config_case("namespace", "myapp", "myapp||"); /* NAMESPACE unset: as appid */
    setenv("NAMESPACE", "prod", 1);
    store_config_case("namespace", "myapp", "prod.myapp||");
    store_config_case("namespace", "", NULL);
    unsetenv("NAMESPACE");
    /* app_id NULL: the caller does no prefixing (the CLI), even for name or a custom value */
    store_config_case("name", NULL, NULL);
    store_config_case("team", NULL, NULL);
    store_config_case("a||b", NULL, NULL);

    /* a prefix with the separator in it is invalid input, named */
    ss_component_list l;
    ss_error e;
    T_INT(
        parse(&l,
              "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata: {name: s}\n"
              "spec:\n  type: state.memory\n  metadata:\n  - {name: keyPrefix, value: \"a||b\"}\n",
              &e),
        SS_OK);
    if (l.count == 1) {
        ss_component_store cs;
        T_INT(ss_component_store_init(&cs, &l.items[0], "myapp", &e), SS_INVALID);
        T_STR(e.message, "keyPrefix 'a||b' can't contain '||'");
        T_CHECK(cs.props == NULL && cs.key_prefix == NULL);
        /* only runtime settings: no driver properties at all */
        T_INT(ss_component_store_init(&cs, &l.items[0], NULL, &e), SS_OK);
        T_INT(cs.config.property_count, 0);
        T_CHECK(cs.config.properties == NULL);
        ss_component_store_dispose(&cs);
    }
    ss_component_list_free(&l);
    ss_component_store_dispose(NULL);
    T_CHECK(ss_component_runtime_prop("keyprefix") && ss_component_runtime_prop("actorStateStore"));
    T_CHECK(!ss_component_runtime_prop("redisHost"));
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "%s/ss-components-XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    test_valid();
    test_multi_document();
    test_env_and_secrets();
    test_errors();
    test_files_and_dirs();
    test_hostile();
    test_store_config();
    rmdir(tmpdir);
    return t_finish("cli_components");
}
