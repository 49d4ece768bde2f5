#include "support/http.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "statestore/driver.h"

struct ss_http {
    long connect_timeout_ms;
    long timeout_ms;
    size_t pool_size;
    char *ca, *cert, *key;
    bool insecure;
    pthread_mutex_t lock;
    CURL **idle; /* pool_size slots, idle_count used */
    size_t idle_count;
};

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc = CURLE_OK;

/* curl_global_init is not thread-safe, and libcurl needs it before the first handle. */
static void global_init(void)
{
    global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static char *dup_or_null(const char *s)
{
    return s && *s ? strdup(s) : NULL;
}

ss_http *ss_http_new(const ss_http_options *opts)
{
    pthread_once(&global_once, global_init);
    if (global_rc != CURLE_OK) return NULL;
    ss_http *h = calloc(1, sizeof *h);
    if (!h) return NULL;
    ss_http_options o = opts ? *opts : (ss_http_options){0};
    h->connect_timeout_ms = o.connect_timeout_ms > 0 ? o.connect_timeout_ms : 5000;
    h->timeout_ms = o.timeout_ms > 0 ? o.timeout_ms : 10000;
    h->pool_size = o.pool_size > 0 ? o.pool_size : 16;
    h->insecure = o.insecure;
    h->ca = dup_or_null(o.ca);
    h->cert = dup_or_null(o.cert);
    h->key = dup_or_null(o.key);
    h->idle = calloc(h->pool_size, sizeof *h->idle);
    if ((o.ca && *o.ca && !h->ca) || (o.cert && *o.cert && !h->cert) ||
        (o.key && *o.key && !h->key) || !h->idle || pthread_mutex_init(&h->lock, NULL) != 0) {
        free(h->ca);
        free(h->cert);
        free(h->key);
        free(h->idle);
        free(h);
        return NULL;
    }
    return h;
}

void ss_http_free(ss_http *h)
{
    if (!h) return;
    for (size_t i = 0; i < h->idle_count; i++) curl_easy_cleanup(h->idle[i]);
    pthread_mutex_destroy(&h->lock);
    free(h->idle);
    free(h->ca);
    free(h->cert);
    free(h->key);
    free(h);
}

void ss_http_response_clear(ss_http_response *resp)
{
    if (!resp) return;
    free(resp->body);
    free(resp->header);
    memset(resp, 0, sizeof *resp);
}

static bool is_pem(const char *s)
{
    return strncmp(s, "-----BEGIN", 10) == 0;
}

static void set_blob(CURL *c, CURLoption blob_opt, CURLoption file_opt, const char *v)
{
    if (is_pem(v)) {
        struct curl_blob b = {.data = (void *)v, .len = strlen(v), .flags = CURL_BLOB_COPY};
        curl_easy_setopt(c, blob_opt, &b);
    } else {
        curl_easy_setopt(c, file_opt, v);
    }
}

static CURL *take_handle(ss_http *h)
{
    CURL *c = NULL;
    pthread_mutex_lock(&h->lock);
    if (h->idle_count > 0) c = h->idle[--h->idle_count];
    pthread_mutex_unlock(&h->lock);
    if (c) return c;
    c = curl_easy_init();
    if (!c) return NULL;
    /* Settings that never change per request are set once per handle. */
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L); /* threads: no SIGALRM for timeouts */
    curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, h->connect_timeout_ms);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, h->timeout_ms);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    if (h->ca) set_blob(c, CURLOPT_CAINFO_BLOB, CURLOPT_CAINFO, h->ca);
    if (h->cert) set_blob(c, CURLOPT_SSLCERT_BLOB, CURLOPT_SSLCERT, h->cert);
    if (h->key) set_blob(c, CURLOPT_SSLKEY_BLOB, CURLOPT_SSLKEY, h->key);
    if (h->insecure) {
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    return c;
}

static void give_handle(ss_http *h, CURL *c, bool reusable)
{
    if (reusable) {
        pthread_mutex_lock(&h->lock);
        if (h->idle_count < h->pool_size) {
            h->idle[h->idle_count++] = c;
            c = NULL;
        }
        pthread_mutex_unlock(&h->lock);
    }
    if (c) curl_easy_cleanup(c);
}

typedef struct sink {
    char *data;
    size_t len, cap;
    bool oom;
} sink;

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    sink *s = userdata;
    size_t n = size * nmemb;
    if (s->len + n + 1 > s->cap) {
        size_t cap = s->cap ? s->cap : 1024;
        while (cap < s->len + n + 1) cap *= 2;
        char *p = realloc(s->data, cap);
        if (!p) {
            s->oom = true;
            return 0; /* makes libcurl abort the transfer */
        }
        s->data = p;
        s->cap = cap;
    }
    memcpy(s->data + s->len, ptr, n);
    s->len += n;
    s->data[s->len] = '\0';
    return n;
}

typedef struct header_sink {
    const char *name; /* NULL = capture nothing */
    size_t name_len;
    char *value;
    bool oom;
} header_sink;

/* libcurl calls this once per response header line (of every response, e.g. after a 100). */
static size_t on_header(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    header_sink *hs = userdata;
    size_t n = size * nmemb;
    if (!hs->name || n <= hs->name_len || ptr[hs->name_len] != ':' ||
        strncasecmp(ptr, hs->name, hs->name_len) != 0)
        return n;
    const char *v = ptr + hs->name_len + 1;
    const char *end = ptr + n;
    while (v < end && (*v == ' ' || *v == '\t')) v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
        end--;
    char *copy = malloc((size_t)(end - v) + 1);
    if (!copy) {
        hs->oom = true;
        return n;
    }
    memcpy(copy, v, (size_t)(end - v));
    copy[end - v] = '\0';
    free(hs->value);
    hs->value = copy;
    return n;
}

ss_code ss_http_perform(ss_http *h, const ss_http_request *req, ss_http_response *resp,
                        ss_error *err)
{
    memset(resp, 0, sizeof *resp);
    CURL *c = take_handle(h);
    if (!c) return ss_error_set(err, SS_NOMEM, "cannot create an HTTP handle");

    struct curl_slist *hdrs = NULL;
    bool oom = false;
    for (const char *const *p = req->headers; p && *p && !oom; p++) {
        struct curl_slist *n = curl_slist_append(hdrs, *p);
        if (n)
            hdrs = n;
        else
            oom = true;
    }
    /* A body over 1 MiB would otherwise wait a second for "100 Continue". */
    struct curl_slist *n = oom ? NULL : curl_slist_append(hdrs, "Expect:");
    if (!n) {
        curl_slist_free_all(hdrs);
        give_handle(h, c, true);
        return ss_error_set(err, SS_NOMEM, "out of memory building HTTP headers");
    }
    hdrs = n;

    sink s = {0};
    const char *method = req->method ? req->method : (req->body ? "POST" : "GET");
    curl_easy_setopt(c, CURLOPT_URL, req->url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
    header_sink hsink = {.name = req->capture_header,
                         .name_len = req->capture_header ? strlen(req->capture_header) : 0};
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &hsink);
    if (strcmp(method, "GET") == 0) {
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, NULL);
    } else {
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, req->body ? req->body : "");
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, strcmp(method, "POST") == 0 ? NULL : method);
    }
    CURLcode rc = curl_easy_perform(c);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(hdrs);

    ss_code code = SS_OK;
    if (s.oom) {
        code = ss_error_set(err, SS_NOMEM, "out of memory reading the HTTP response");
    } else if (rc != CURLE_OK) {
        resp->not_sent = rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST ||
                         rc == CURLE_COULDNT_RESOLVE_PROXY;
        if (rc == CURLE_OPERATION_TIMEDOUT) {
            code = ss_error_set(err, SS_TIMEOUT, "%s", curl_easy_strerror(rc));
        } else {
            code = ss_error_set(err, SS_UNAVAILABLE, "%s", curl_easy_strerror(rc));
        }
    } else {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status);
        if (!s.data) s.data = calloc(1, 1);
        if (!s.data) {
            code = ss_error_set(err, SS_NOMEM, "out of memory reading the HTTP response");
        } else {
            resp->body = s.data;
            resp->body_len = s.len;
            s.data = NULL;
        }
    }
    free(s.data);
    if (code == SS_OK && hsink.oom)
        code = ss_error_set(err, SS_NOMEM, "out of memory reading the HTTP response");
    if (code == SS_OK) {
        resp->header = hsink.value;
    } else {
        free(hsink.value);
        if (resp->body) {
            free(resp->body);
            resp->body = NULL;
            resp->body_len = 0;
        }
    }
    /* A handle that failed may hold a broken connection; a fresh one reconnects cleanly. */
    give_handle(h, c, code == SS_OK);
    return code;
}

ss_code ss_http_post_json(ss_http *h, const char *url, const char *const *headers,
                          const json_t *body, long *status, json_t **out, bool *not_sent,
                          ss_error *err)
{
    *out = NULL;
    *status = 0;
    if (not_sent) *not_sent = false;
    char *text = json_dumps(body, JSON_COMPACT);
    if (!text) return ss_error_set(err, SS_NOMEM, "out of memory encoding JSON");

    const char *hdr[16];
    size_t n = 0;
    hdr[n++] = "Content-Type: application/json";
    for (const char *const *p = headers; p && *p && n < 15; p++) hdr[n++] = *p;
    hdr[n] = NULL;

    ss_http_request req = {
        .method = "POST", .url = url, .headers = hdr, .body = text, .body_len = strlen(text)};
    ss_http_response resp;
    ss_code code = ss_http_perform(h, &req, &resp, err);
    free(text);
    if (code != SS_OK) {
        if (not_sent) *not_sent = resp.not_sent;
        return code;
    }
    *status = resp.status;
    if (resp.body_len > 0) *out = json_loadb(resp.body, resp.body_len, JSON_DECODE_ANY, NULL);
    ss_http_response_clear(&resp);
    return SS_OK;
}
