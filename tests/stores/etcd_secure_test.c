/*
 * etcd over TLS (client certificates required) and with auth enabled, each on a private etcd this
 * test starts with scripts/services/etcd.sh (ETCD_TLS=1 / ETCD_AUTH=1) in a temporary directory.
 * TLS material is passed both ways Dapr allows: PEM text and file paths.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "statestore.h"
#include "store_check.h"

#ifndef SS_ETCD_SCRIPT
#define SS_ETCD_SCRIPT "scripts/services/etcd.sh"
#endif

static int script(const char *envs, const char *what, const char *dir)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s bash '%s' %s '%s' >'%s/script.log' 2>&1", envs, SS_ETCD_SCRIPT,
             what, dir, dir);
    return system(cmd);
}

/* Reads `export NAME=value` from DIR/etcd.env. */
static void env_value(const char *dir, const char *name, char *out, size_t len)
{
    char path[256], line[1024], pat[64];
    snprintf(path, sizeof path, "%s/etcd.env", dir);
    snprintf(pat, sizeof pat, "export %s=", name);
    out[0] = '\0';
    FILE *f = fopen(path, "r");
    while (f && fgets(line, sizeof line, f)) {
        if (strncmp(line, pat, strlen(pat)) != 0) continue;
        snprintf(out, len, "%s", line + strlen(pat));
        out[strcspn(out, "\n")] = '\0';
    }
    if (f) fclose(f);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = calloc(1, 65536);
    size_t n = buf ? fread(buf, 1, 65535, f) : 0;
    (void)n;
    fclose(f);
    return buf;
}

static ss_code try_store(const ss_pair *props, size_t n, ss_error *err)
{
    ss_config cfg = {.driver = "etcd", .properties = props, .property_count = n};
    ss_store *s = NULL;
    ss_code c = ss_open(&s, &cfg, err);
    if (c != SS_OK) return c;
    ss_set_request r = {.key = "secure", .value = "yes", .value_len = 3};
    c = ss_set(NULL, s, &r, err);
    ss_value *v = NULL;
    ss_get_request g = {.key = "secure", .consistency = SS_STRONG};
    if (c == SS_OK) c = ss_get(&v, s, &g, err);
    if (c == SS_OK && (!v || v->len != 3 || memcmp(v->data, "yes", 3) != 0)) c = SS_BACKEND;
    ss_value_free(v);
    ss_close(s);
    return c;
}

static void test_tls(const char *dir)
{
    char ep[256], ca[256], cert[256], key[256];
    env_value(dir, "SS_TEST_ETCD_ENDPOINTS", ep, sizeof ep);
    env_value(dir, "SS_TEST_ETCD_CA", ca, sizeof ca);
    env_value(dir, "SS_TEST_ETCD_CERT", cert, sizeof cert);
    env_value(dir, "SS_TEST_ETCD_KEY", key, sizeof key);
    char *ca_pem = slurp(ca), *cert_pem = slurp(cert);
    CHECK(ca_pem && cert_pem, "read the certificates");
    if (!ca_pem || !cert_pem) goto out;
    ss_error err;
    /* Dapr's form: host:port, PEM text; the key as a file path. */
    const char *hostport = strstr(ep, "://") ? strstr(ep, "://") + 3 : ep;
    ss_pair props[] = {{"endpoints", hostport},
                       {"tlsEnable", "true"},
                       {"ca", ca_pem},
                       {"cert", cert_pem},
                       {"key", key}};
    ss_code c = try_store(props, 5, &err);
    CHECK(c == SS_OK, "TLS with client certificate: %s", err.message);
    /* No client certificate: the server refuses the handshake. */
    c = try_store(props, 3, &err);
    CHECK(c == SS_UNAVAILABLE, "TLS without client certificate: %d %s", c, err.message);
    /* No CA: the self-signed server certificate is not trusted. */
    ss_pair noca[] = {{"endpoints", ep}, {"tlsEnable", "true"}, {"cert", cert}, {"key", key}};
    c = try_store(noca, 4, &err);
    CHECK(c == SS_UNAVAILABLE, "TLS without the CA: %d %s", c, err.message);
    ss_pair half[] = {{"endpoints", ep}, {"tlsEnable", "true"}, {"ca", ca}, {"cert", cert}};
    c = try_store(half, 4, &err);
    CHECK(c == SS_INVALID, "cert without key: %d %s", c, err.message);
out:
    free(ca_pem);
    free(cert_pem);
}

static void test_auth(const char *dir)
{
    char ep[256], user[64], pw[128];
    env_value(dir, "SS_TEST_ETCD_ENDPOINTS", ep, sizeof ep);
    env_value(dir, "SS_TEST_ETCD_USER", user, sizeof user);
    env_value(dir, "SS_TEST_ETCD_PASSWORD", pw, sizeof pw);
    ss_error err;
    ss_pair props[] = {{"endpoints", ep}, {"username", user}, {"password", pw}};
    ss_code c = try_store(props, 3, &err);
    CHECK(c == SS_OK, "auth with the right password: %s", err.message);
    ss_pair wrong[] = {{"endpoints", ep}, {"username", user}, {"password", "not-it"}};
    c = try_store(wrong, 3, &err);
    CHECK(c != SS_OK && !strstr(err.message, "not-it"), "wrong password refused: %d %s", c,
          err.message);
    c = try_store(props, 1, &err);
    CHECK(c != SS_OK, "no credentials refused: %d %s", c, err.message);
}

int main(void)
{
    if (system("command -v etcd >/dev/null 2>&1 && command -v openssl >/dev/null 2>&1") != 0) {
        printf("skip: etcd or openssl not installed (apt etcd-server openssl)\n");
        return 77;
    }
    char tls[] = "/tmp/ss-etcd-tls-XXXXXX", auth[] = "/tmp/ss-etcd-auth-XXXXXX";
    if (!mkdtemp(tls) || !mkdtemp(auth)) {
        perror("mkdtemp");
        return 1;
    }
    if (script("ETCD_TLS=1", "start", tls) == 0)
        test_tls(tls);
    else
        CHECK(0, "could not start a TLS etcd (see %s)", tls);
    script("", "stop", tls);
    if (script("ETCD_AUTH=1", "start", auth) == 0)
        test_auth(auth);
    else
        CHECK(0, "could not start an etcd with auth (see %s)", auth);
    script("", "stop", auth);
    if (!failures) {
        char rm[256];
        snprintf(rm, sizeof rm, "rm -rf '%s' '%s'", tls, auth);
        if (system(rm) != 0) fprintf(stderr, "warning: could not remove %s, %s\n", tls, auth);
    }
    return check_summary("etcd TLS and auth tests");
}
