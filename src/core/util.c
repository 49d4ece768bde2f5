/* util.c — strings, values, clocks, UUIDs, time formatting and the retry sleep hook. */
#include "core/util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

const char *ss_version(void)
{
    return SS_VERSION_STRING;
}

void ss_free(void *ptr)
{
    free(ptr);
}

char *ss_strdup(const char *s)
{
    if (!s) return NULL;
    return ss_strndup(s, strlen(s));
}

char *ss_strndup(const char *s, size_t n)
{
    if (!s) return NULL;
    size_t len = strnlen(s, n);
    char *p = malloc(len + 1);
    if (!p) return NULL;
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

/* ---- values ---- */

/*
 * A value, its data and its ETag live in one allocation: reads are the hot path of every store,
 * and three mallocs per get cost more than the in-memory lookup itself. The hidden header
 * records the block's extent so ss_value_free can tell inline parts from ones a driver replaced
 * with separately allocated strings (those are freed on their own).
 */
typedef struct value_block {
    size_t size; /* bytes from the start of this header */
    ss_value value;
} value_block;

static value_block *block_of(ss_value *v)
{
    return (value_block *)((char *)v - offsetof(value_block, value));
}

static bool inside_block(const value_block *b, const void *p)
{
    return (const char *)p >= (const char *)b && (const char *)p < (const char *)b + b->size;
}

ss_value *ss_value_new(const void *data, size_t len, const char *etag)
{
    if (!data && len > 0) return NULL;
    size_t etag_len = etag ? strlen(etag) : 0;
    size_t need = sizeof(value_block);
    if (len > SIZE_MAX - need - 2 - etag_len) return NULL;
    need += len + 1 + (etag ? etag_len + 1 : 0);
    value_block *b = malloc(need);
    if (!b) return NULL;
    b->size = need;
    ss_value *v = &b->value;
    memset(v, 0, sizeof *v);
    v->data = (char *)(b + 1);
    if (len) memcpy(v->data, data, len);
    v->data[len] = '\0';
    v->len = len;
    if (etag) {
        v->etag = v->data + len + 1;
        memcpy(v->etag, etag, etag_len + 1);
    }
    return v;
}

void ss_value_drop_etag(ss_value *value)
{
    if (!value || !value->etag) return;
    if (!inside_block(block_of(value), value->etag)) free(value->etag);
    value->etag = NULL;
}

void ss_value_free(ss_value *value)
{
    if (!value) return;
    value_block *b = block_of(value);
    for (size_t i = 0; i < value->metadata_count; i++) {
        free((char *)value->metadata[i].name);
        free((char *)value->metadata[i].value);
    }
    free(value->metadata);
    if (value->data && !inside_block(b, value->data)) free(value->data);
    if (value->etag && !inside_block(b, value->etag)) free(value->etag);
    free(b);
}

const char *ss_value_meta(const ss_value *value, const char *name)
{
    if (!value || !name) return NULL;
    for (size_t i = 0; i < value->metadata_count; i++)
        if (value->metadata[i].name && strcmp(value->metadata[i].name, name) == 0)
            return value->metadata[i].value;
    return NULL;
}

ss_code ss_value_add_meta(ss_value *value, const char *name, const char *val)
{
    if (!value || !name || !*name) return SS_INVALID;
    ss_pair *grown = realloc(value->metadata, (value->metadata_count + 1) * sizeof *grown);
    if (!grown) return SS_NOMEM;
    value->metadata = grown;
    char *n = ss_strdup(name);
    char *v = ss_strdup(val ? val : "");
    if (!n || !v) {
        free(n);
        free(v);
        return SS_NOMEM;
    }
    value->metadata[value->metadata_count].name = n;
    value->metadata[value->metadata_count].value = v;
    value->metadata_count++;
    return SS_OK;
}

ss_code ss_value_set_expiry(ss_value *value, int64_t expires_unix_ms)
{
    char buf[40];
    ss_format_rfc3339(expires_unix_ms, buf, sizeof buf);
    return ss_value_add_meta(value, SS_META_TTL_EXPIRE, buf);
}

const char *ss_op_meta(const ss_op *op, const char *name)
{
    if (!op || !name) return NULL;
    for (size_t i = 0; i < op->metadata_count; i++)
        if (op->metadata[i].name && strcmp(op->metadata[i].name, name) == 0)
            return op->metadata[i].value;
    return NULL;
}

bool ss_parse_int64(const char *s, int64_t *out)
{
    if (!s || !*s) return false;
    const char *p = s;
    bool neg = false;
    if (*p == '+' || *p == '-') neg = *p++ == '-';
    if (!*p) return false;
    uint64_t acc = 0;
    const uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (; *p; p++) {
        if (*p < '0' || *p > '9') return false;
        unsigned d = (unsigned)(*p - '0');
        if (acc > (limit - d) / 10) return false;
        acc = acc * 10 + d;
    }
    if (neg)
        *out = acc == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)acc;
    else
        *out = (int64_t)acc;
    return true;
}

/* ---- UUIDs, clocks, time text ---- */

static void fill_random(unsigned char *buf, size_t len)
{
    size_t got = 0;
    while (got < len) {
        ssize_t n = getrandom(buf + got, len - got, 0);
        if (n > 0) {
            got += (size_t)n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else {
            break;
        }
    }
    if (got == len) return;
    /* Kernels without getrandom(2): the device gives the same bytes. */
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    while (fd >= 0 && got < len) {
        ssize_t n = read(fd, buf + got, len - got);
        if (n > 0)
            got += (size_t)n;
        else if (!(n < 0 && errno == EINTR))
            break;
    }
    if (fd >= 0) close(fd);
    if (got < len) {
        /* No random source at all: still unique per process and call, never a repeat. */
        static _Atomic unsigned long counter;
        unsigned long c = ++counter;
        int64_t t = ss_monotonic_ms() ^ ss_now_unix_ms();
        for (size_t i = got; i < len; i++)
            buf[i] = (unsigned char)((c >> ((i % 8) * 8)) ^ (unsigned long)(t >> (i % 7)) ^
                                     (unsigned long)getpid());
    }
}

/* Bumped in every forked child: thread-local generators compare against it. */
static _Atomic unsigned fork_generation = 1;
static pthread_once_t uuid_once = PTHREAD_ONCE_INIT;
/* Byte -> its two lowercase hex digits; a table lookup per byte halves the cost of the text. */
static char hex_pairs[256][2];

static void on_fork_child(void)
{
    atomic_fetch_add_explicit(&fork_generation, 1, memory_order_relaxed);
}

static void uuid_init(void)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < 256; i++) {
        hex_pairs[i][0] = hex[i >> 4];
        hex_pairs[i][1] = hex[i & 15];
    }
    pthread_atfork(NULL, NULL, on_fork_child);
}

/*
 * ETags and identifiers must be unique, not secret: whoever may send an ETag may read it with a
 * get. The kernel's generator (getrandom) cost about a quarter of a whole in-memory write, so
 * each thread runs the xoshiro256** generator (Blackman and Vigna, 2018) seeded with 256 bits
 * from the OS: distinct random starting points in a 2^256 cycle never overlap in practice. No
 * Debian library offers a fast seeded generator without tying the core to libcrypto (OpenSSL's
 * DRBG), which the embedded-only build does not link. A forked child reseeds, so it never
 * repeats its parent's stream.
 */
static uint64_t rotl64(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static _Thread_local uint64_t rng_state[4];
static _Thread_local unsigned rng_generation; /* 0 = not seeded in this thread yet */

static uint64_t rng_next(void)
{
    uint64_t *st = rng_state;
    uint64_t result = rotl64(st[1] * 5, 7) * 9;
    uint64_t t = st[1] << 17;
    st[2] ^= st[0];
    st[3] ^= st[1];
    st[1] ^= st[2];
    st[0] ^= st[3];
    st[2] ^= t;
    st[3] = rotl64(st[3], 45);
    return result;
}

static void rng_seed(void)
{
    /* Run before this thread's first output: the table is ready, and any later fork reseeds
     * its child. */
    pthread_once(&uuid_once, uuid_init);
    unsigned char seed[sizeof rng_state];
    fill_random(seed, sizeof seed);
    memcpy(rng_state, seed, sizeof seed);
    /* The all-zero state is the generator's one fixed point. */
    if (!(rng_state[0] | rng_state[1] | rng_state[2] | rng_state[3])) rng_state[0] = 1;
}

void ss_uuid4(char out[37])
{
    /* Where each of the 16 bytes' two hex digits go in 8-4-4-4-12. */
    static const unsigned char at[16] = {0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34};
    unsigned gen = atomic_load_explicit(&fork_generation, memory_order_relaxed);
    if (rng_generation != gen) {
        rng_seed();
        rng_generation = gen;
    }
    unsigned char b[16];
    uint64_t hi = rng_next(), lo = rng_next();
    for (size_t i = 0; i < 8; i++) {
        b[i] = (unsigned char)(hi >> (56 - 8 * i));
        b[8 + i] = (unsigned char)(lo >> (56 - 8 * i));
    }
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* variant 10 */
    for (size_t i = 0; i < 16; i++) {
        memcpy(out + at[i], hex_pairs[b[i]], 2);
    }
    out[8] = out[13] = out[18] = out[23] = '-';
    out[36] = '\0';
}

int64_t ss_now_unix_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t ss_monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void ss_format_rfc3339(int64_t unix_ms, char *buf, size_t buflen)
{
    if (!buf || buflen == 0) return;
    /* Floor division so times before 1970 round towards the past, like every clock. */
    int64_t secs = unix_ms / 1000;
    if (unix_ms % 1000 < 0) secs--;
    time_t t = (time_t)secs;
    struct tm tm;
    if (!gmtime_r(&t, &tm)) {
        snprintf(buf, buflen, "1970-01-01T00:00:00Z");
        return;
    }
    if (strftime(buf, buflen, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) buf[0] = '\0';
}

/* ---- retry sleep hook ---- */

static ss_sleep_fn sleep_fn;
static void *sleep_ctx;

void ss_internal_set_sleep(ss_sleep_fn fn, void *ctx)
{
    sleep_fn = fn;
    sleep_ctx = ctx;
}

void ss_internal_sleep(uint32_t ms)
{
    if (sleep_fn) {
        sleep_fn(sleep_ctx, ms);
        return;
    }
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

uint32_t ss_retry_delay_ms(const ss_retry *r, uint32_t attempt)
{
    if (!r || r->interval_ms == 0) return 0;
    if (r->pattern && strcmp(r->pattern, SS_EXPONENTIAL) == 0) {
        uint32_t shift = attempt > 0 ? attempt - 1 : 0;
        uint64_t d = shift >= 32 ? UINT64_MAX : (uint64_t)r->interval_ms << shift;
        return d > UINT32_MAX ? UINT32_MAX : (uint32_t)d;
    }
    return r->interval_ms;
}
