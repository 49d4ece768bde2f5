/*
 * json.c — JSON for the CLI: a strict validator, jsmn tokens (for raw value spans), jansson
 * for decoding string escapes, and writers that keep any bytes exact.
 *
 * jsmn checks structure but not number or literal syntax, so every document goes through the
 * validator first; jansson cannot keep a value's exact text (it rounds big numbers), so it is
 * only used to decode string tokens.
 */
#define JSMN_STATIC
#define JSMN_STRICT
#include <jsmn.h>

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"

#define MAX_DEPTH 512

/* ------------------------------------------------------------------------------------------ */
/* Validator                                                                                   */
/* ------------------------------------------------------------------------------------------ */

typedef struct vstate {
    const unsigned char *s;
    size_t len, pos;
    const char *why;
} vstate;

static void ws(vstate *v)
{
    while (v->pos < v->len) {
        unsigned char ch = v->s[v->pos];
        if (ch != ' ' && ch != '\t' && ch != '\n' && ch != '\r') break;
        v->pos++;
    }
}

static bool fail(vstate *v, const char *why)
{
    if (!v->why) v->why = why;
    return false;
}

static bool is_digit(unsigned char ch)
{
    return ch >= '0' && ch <= '9';
}

static bool v_number(vstate *v)
{
    if (v->pos < v->len && v->s[v->pos] == '-') v->pos++;
    if (v->pos >= v->len || !is_digit(v->s[v->pos])) return fail(v, "bad number");
    if (v->s[v->pos] == '0') {
        v->pos++;
    } else {
        while (v->pos < v->len && is_digit(v->s[v->pos])) v->pos++;
    }
    if (v->pos < v->len && v->s[v->pos] == '.') {
        v->pos++;
        if (v->pos >= v->len || !is_digit(v->s[v->pos])) return fail(v, "bad number");
        while (v->pos < v->len && is_digit(v->s[v->pos])) v->pos++;
    }
    if (v->pos < v->len && (v->s[v->pos] == 'e' || v->s[v->pos] == 'E')) {
        v->pos++;
        if (v->pos < v->len && (v->s[v->pos] == '+' || v->s[v->pos] == '-')) v->pos++;
        if (v->pos >= v->len || !is_digit(v->s[v->pos])) return fail(v, "bad number");
        while (v->pos < v->len && is_digit(v->s[v->pos])) v->pos++;
    }
    return true;
}

/* Length of the UTF-8 sequence at s (at most n bytes), 0 when invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    if (c < 0x80) return 1;
    size_t len;
    unsigned min;
    unsigned cp;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
        cp = c & 0x1f;
        min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        cp = c & 0x0f;
        min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        cp = c & 0x07;
        min = 0x10000;
    } else {
        return 0;
    }
    if (n < len) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80) return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
    return len;
}

bool utf8_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        size_t n = utf8_seq(p + i, len - i);
        if (!n) return false;
        i += n;
    }
    return true;
}

static bool v_string(vstate *v)
{
    v->pos++; /* opening quote */
    while (v->pos < v->len) {
        unsigned char ch = v->s[v->pos];
        if (ch == '"') {
            v->pos++;
            return true;
        }
        if (ch < 0x20) return fail(v, "control character in string");
        if (ch == '\\') {
            if (++v->pos >= v->len) break;
            ch = v->s[v->pos];
            if (ch == 'u') {
                for (int i = 1; i <= 4; i++) {
                    if (v->pos + i >= v->len) return fail(v, "truncated \\u escape");
                    unsigned char h = v->s[v->pos + i];
                    if (!is_digit(h) && !((h | 0x20) >= 'a' && (h | 0x20) <= 'f'))
                        return fail(v, "bad \\u escape");
                }
                v->pos += 5;
                continue;
            }
            if (!strchr("\"\\/bfnrt", ch) || ch == 0) return fail(v, "bad escape in string");
            v->pos++;
            continue;
        }
        size_t n = utf8_seq(v->s + v->pos, v->len - v->pos);
        if (!n) return fail(v, "invalid UTF-8 in string");
        v->pos += n;
    }
    return fail(v, "unterminated string");
}

static bool v_value(vstate *v, int depth);

static bool v_literal(vstate *v, const char *lit)
{
    size_t n = strlen(lit);
    if (v->len - v->pos < n || memcmp(v->s + v->pos, lit, n) != 0)
        return fail(v, "unexpected character");
    v->pos += n;
    return true;
}

static bool v_value(vstate *v, int depth)
{
    if (depth > MAX_DEPTH) return fail(v, "nested too deeply");
    ws(v);
    if (v->pos >= v->len) return fail(v, "unexpected end of input");
    unsigned char ch = v->s[v->pos];
    switch (ch) {
    case '{':
        v->pos++;
        ws(v);
        if (v->pos < v->len && v->s[v->pos] == '}') {
            v->pos++;
            return true;
        }
        for (;;) {
            ws(v);
            if (v->pos >= v->len || v->s[v->pos] != '"') return fail(v, "expected a member name");
            if (!v_string(v)) return false;
            ws(v);
            if (v->pos >= v->len || v->s[v->pos] != ':') return fail(v, "expected ':'");
            v->pos++;
            if (!v_value(v, depth + 1)) return false;
            ws(v);
            if (v->pos < v->len && v->s[v->pos] == ',') {
                v->pos++;
                continue;
            }
            if (v->pos < v->len && v->s[v->pos] == '}') {
                v->pos++;
                return true;
            }
            return fail(v, "expected ',' or '}'");
        }
    case '[':
        v->pos++;
        ws(v);
        if (v->pos < v->len && v->s[v->pos] == ']') {
            v->pos++;
            return true;
        }
        for (;;) {
            if (!v_value(v, depth + 1)) return false;
            ws(v);
            if (v->pos < v->len && v->s[v->pos] == ',') {
                v->pos++;
                continue;
            }
            if (v->pos < v->len && v->s[v->pos] == ']') {
                v->pos++;
                return true;
            }
            return fail(v, "expected ',' or ']'");
        }
    case '"':
        return v_string(v);
    case 't':
        return v_literal(v, "true");
    case 'f':
        return v_literal(v, "false");
    case 'n':
        return v_literal(v, "null");
    default:
        if (ch == '-' || is_digit(ch)) return v_number(v);
        return fail(v, "unexpected character");
    }
}

bool json_valid(const char *s, size_t len, char *why, size_t why_len)
{
    vstate v = {.s = (const unsigned char *)s, .len = len};
    bool ok = v_value(&v, 0);
    if (ok) {
        ws(&v);
        if (v.pos != v.len) ok = fail(&v, "unexpected text after the JSON value");
    }
    if (!ok && why && why_len) snprintf(why, why_len, "%s at byte %zu", v.why, v.pos + 1);
    return ok;
}

/* ------------------------------------------------------------------------------------------ */
/* Tokens                                                                                      */
/* ------------------------------------------------------------------------------------------ */

#define TOK(d, i) (((jsmntok_t *)(d)->tokens)[i])

int jdoc_parse(jdoc *d, const char *text, size_t len, char *why, size_t why_len)
{
    memset(d, 0, sizeof *d);
    if (len > (size_t)0x7fffff00) {
        snprintf(why, why_len, "document larger than 2 GiB");
        return 1;
    }
    if (!json_valid(text, len, why, why_len)) return 1;
    jsmn_parser p;
    jsmn_init(&p);
    int n = jsmn_parse(&p, text, len, NULL, 0);
    if (n <= 0) {
        snprintf(why, why_len, "malformed JSON");
        return 1;
    }
    jsmntok_t *t = calloc((size_t)n, sizeof *t);
    if (!t) {
        snprintf(why, why_len, "out of memory");
        return 1;
    }
    jsmn_init(&p);
    int m = jsmn_parse(&p, text, len, t, (unsigned)n);
    if (m != n) {
        free(t);
        snprintf(why, why_len, "malformed JSON");
        return 1;
    }
    d->text = text;
    d->len = len;
    d->tokens = t;
    d->count = n;
    return 0;
}

void jdoc_free(jdoc *d)
{
    if (!d) return;
    free(d->tokens);
    d->tokens = NULL;
    d->count = 0;
}

jtype jdoc_type(const jdoc *d, int tok)
{
    return (jtype)TOK(d, tok).type;
}

int jdoc_size(const jdoc *d, int tok)
{
    return TOK(d, tok).size;
}

int jdoc_skip(const jdoc *d, int tok)
{
    /* Each token consumes one pending slot and adds its children (object keys own their values). */
    int pending = 1;
    int i = tok;
    while (pending > 0 && i < d->count) {
        pending += TOK(d, i).size - 1;
        i++;
    }
    return i;
}

const char *jdoc_raw(const jdoc *d, int tok, size_t *len)
{
    int start = TOK(d, tok).start, end = TOK(d, tok).end;
    if (TOK(d, tok).type == JSMN_STRING) {
        start--;
        end++;
    }
    *len = (size_t)(end - start);
    return d->text + start;
}

bool jdoc_is_null(const jdoc *d, int tok)
{
    size_t n;
    const char *r = jdoc_raw(d, tok, &n);
    return TOK(d, tok).type == JSMN_PRIMITIVE && n == 4 && memcmp(r, "null", 4) == 0;
}

char *jdoc_string(const jdoc *d, int tok, size_t *len)
{
    if (TOK(d, tok).type != JSMN_STRING) return NULL;
    size_t n;
    const char *raw = jdoc_raw(d, tok, &n);
    json_error_t e;
    json_t *j = json_loadb(raw, n, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
    if (!j) return NULL;
    size_t sl = json_string_length(j);
    char *out = malloc(sl + 1);
    if (out) {
        memcpy(out, json_string_value(j), sl);
        out[sl] = '\0';
        if (len) *len = sl;
    }
    json_decref(j);
    return out;
}

int jdoc_get(const jdoc *d, int obj, const char *key, bool nocase)
{
    if (TOK(d, obj).type != JSMN_OBJECT) return -1;
    int members = TOK(d, obj).size;
    int i = obj + 1;
    int found = -1;
    for (int m = 0; m < members; m++) {
        size_t kl;
        char *k = jdoc_string(d, i, &kl);
        bool match = k && strlen(k) == kl && (nocase ? strcasecmp(k, key) : strcmp(k, key)) == 0;
        free(k);
        /* The last duplicate wins, as with Go's encoding/json. */
        if (match) found = i + 1;
        i = jdoc_skip(d, i);
    }
    return found;
}

/* ------------------------------------------------------------------------------------------ */
/* Writers                                                                                     */
/* ------------------------------------------------------------------------------------------ */

void json_put_string(FILE *f, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    putc('"', f);
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        switch (ch) {
        case '"':
            fputs("\\\"", f);
            break;
        case '\\':
            fputs("\\\\", f);
            break;
        case '\n':
            fputs("\\n", f);
            break;
        case '\r':
            fputs("\\r", f);
            break;
        case '\t':
            fputs("\\t", f);
            break;
        default:
            if (ch < 0x20 || ch == 0x7f) {
                fprintf(f, "\\u00%c%c", hex[ch >> 4], hex[ch & 15]);
            } else {
                putc(ch, f);
            }
        }
    }
    putc('"', f);
}

void json_put_bytes_field(FILE *f, const char *field, const char *s, size_t len)
{
    if (utf8_valid(s, len)) {
        fprintf(f, "\"%s\":", field);
        json_put_string(f, s, len);
        return;
    }
    char *b = base64_encode(s, len);
    fprintf(f, "\"%s_base64\":\"%s\"", field, b ? b : "");
    free(b);
}

void json_put_value_fields(FILE *f, const char *data, size_t len)
{
    if (len > 0 && !memchr(data, '\n', len) && !memchr(data, '\r', len) &&
        json_valid(data, len, NULL, 0)) {
        fputs("\"value\":", f);
        fwrite(data, 1, len, f);
        return;
    }
    if (utf8_valid(data, len)) {
        fputs("\"text\":", f);
        json_put_string(f, data, len);
        return;
    }
    char *b = base64_encode(data, len);
    fprintf(f, "\"base64\":\"%s\"", b ? b : "");
    free(b);
}

int json_get_value_fields(const jdoc *d, int obj, bool nocase, pool *keep, const char **data,
                          size_t *len, bool *present, char *why, size_t why_len)
{
    int tv = jdoc_get(d, obj, "value", nocase);
    int tt = jdoc_get(d, obj, "text", nocase);
    int tb = jdoc_get(d, obj, "base64", nocase);
    *present = false;
    *data = NULL;
    *len = 0;
    if ((tv >= 0) + (tt >= 0) + (tb >= 0) > 1) {
        snprintf(why, why_len, "more than one of \"value\", \"text\" and \"base64\"");
        return 1;
    }
    if (tv >= 0) {
        /* The exact JSON text, as statestored stores a request's value. */
        *data = jdoc_raw(d, tv, len);
        *present = true;
        return 0;
    }
    int t = tt >= 0 ? tt : tb;
    if (t < 0) return 0;
    size_t n;
    char *s = jdoc_string(d, t, &n);
    if (!s) {
        snprintf(why, why_len, "\"%s\" must be a string", tt >= 0 ? "text" : "base64");
        return 1;
    }
    if (tb >= 0) {
        bool bad = false;
        size_t bl;
        char *b = base64_decode(s, n, &bl, &bad);
        free(s);
        if (!b) {
            snprintf(why, why_len, bad ? "\"base64\" is not valid base64" : "out of memory");
            return 1;
        }
        s = b;
        n = bl;
    }
    if (!pool_keep(keep, s)) {
        snprintf(why, why_len, "out of memory");
        return 1;
    }
    *data = s;
    *len = n;
    *present = true;
    return 0;
}
