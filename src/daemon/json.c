/*
 * json.c — the one translation unit that compiles jsmn (header-only, Debian libjsmn-dev).
 *
 * jsmn is used because it hands back the exact text span of every value, which is what lets the
 * daemon store `value` byte-exact (big integers, 1.10, escapes and key order survive). But jsmn
 * is permissive (even with JSMN_STRICT, which also refuses a bare top-level number): it accepts
 * trailing commas ("[1,]"), bad literals
 * ("tru", "01", "1."), unknown escapes and lone values after the root, and it never names what
 * was wrong. So every body first goes through the hand-written RFC 8259 checker below, which
 * rejects all of that with a message naming the problem and its byte offset; jsmn then only
 * tokenises text already known to be valid.
 */
#define JSMN_STATIC
/* Without parent links jsmn walks back over every earlier token at each ',' (quadratic). */
#define JSMN_PARENT_LINKS
#include <jsmn.h>

#include "json.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Deep enough for any real document; bounds the checker's recursion (no stack exhaustion). */
#define JSON_MAX_DEPTH 256

struct jdoc {
    const char *js;
    size_t len;
    jsmntok_t *t;
    int n;
};

/* ---------------------------------------------------------------------------------------- */
/* Strict checker                                                                            */
/* ---------------------------------------------------------------------------------------- */

typedef struct chk {
    const char *s;
    size_t len;
    size_t pos;
    int depth;
    char *err;
    size_t errlen;
} chk;

static bool fail(chk *c, const char *what)
{
    if (c->err && c->errlen) {
        if (c->pos >= c->len)
            snprintf(c->err, c->errlen, "%s at end of input (truncated?)", what);
        else
            snprintf(c->err, c->errlen, "%s at byte %zu", what, c->pos);
    }
    return false;
}

static void skip_ws(chk *c)
{
    while (c->pos < c->len) {
        char ch = c->s[c->pos];
        if (ch != ' ' && ch != '\t' && ch != '\n' && ch != '\r') break;
        c->pos++;
    }
}

static bool is_digit(char ch)
{
    return ch >= '0' && ch <= '9';
}

static bool is_hex(char ch)
{
    return is_digit(ch) || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
}

static bool chk_value(chk *c);

static bool chk_string(chk *c)
{
    c->pos++; /* opening quote */
    while (c->pos < c->len) {
        unsigned char ch = (unsigned char)c->s[c->pos];
        if (ch == '"') {
            c->pos++;
            return true;
        }
        if (ch < 0x20) return fail(c, "control character in string");
        if (ch == '\\') {
            c->pos++;
            if (c->pos >= c->len) break;
            char e = c->s[c->pos];
            if (e == 'u') {
                for (int i = 1; i <= 4; i++)
                    if (c->pos + i >= c->len || !is_hex(c->s[c->pos + i]))
                        return fail(c, "invalid \\u escape in string");
                c->pos += 5;
                continue;
            }
            if (!strchr("\"\\/bfnrt", e) || e == '\0') return fail(c, "invalid escape in string");
        }
        c->pos++;
    }
    return fail(c, "unterminated string");
}

static bool chk_number(chk *c)
{
    size_t p = c->pos;
    if (p < c->len && c->s[p] == '-') p++;
    if (p >= c->len || !is_digit(c->s[p])) return c->pos = p, fail(c, "invalid number");
    if (c->s[p] == '0') {
        p++;
        if (p < c->len && is_digit(c->s[p]))
            return c->pos = p, fail(c, "invalid number (leading zero)");
    } else {
        while (p < c->len && is_digit(c->s[p])) p++;
    }
    if (p < c->len && c->s[p] == '.') {
        p++;
        if (p >= c->len || !is_digit(c->s[p]))
            return c->pos = p, fail(c, "invalid number (no digit after '.')");
        while (p < c->len && is_digit(c->s[p])) p++;
    }
    if (p < c->len && (c->s[p] == 'e' || c->s[p] == 'E')) {
        p++;
        if (p < c->len && (c->s[p] == '+' || c->s[p] == '-')) p++;
        if (p >= c->len || !is_digit(c->s[p]))
            return c->pos = p, fail(c, "invalid number (bad exponent)");
        while (p < c->len && is_digit(c->s[p])) p++;
    }
    c->pos = p;
    return true;
}

static bool chk_literal(chk *c, const char *lit)
{
    size_t n = strlen(lit);
    if (c->len - c->pos < n || memcmp(c->s + c->pos, lit, n) != 0)
        return fail(c, "invalid literal");
    c->pos += n;
    return true;
}

/* After a value inside a container: ',' then another item, or the closing bracket. */
static bool chk_container(chk *c, char close, bool object)
{
    if (++c->depth > JSON_MAX_DEPTH) return fail(c, "nesting too deep");
    c->pos++; /* opening bracket */
    skip_ws(c);
    if (c->pos < c->len && c->s[c->pos] == close) {
        c->pos++;
        c->depth--;
        return true;
    }
    for (;;) {
        skip_ws(c);
        if (object) {
            if (c->pos >= c->len) return fail(c, "unexpected end of object");
            if (c->s[c->pos] != '"') return fail(c, "expected a member name (string)");
            if (!chk_string(c)) return false;
            skip_ws(c);
            if (c->pos >= c->len || c->s[c->pos] != ':') return fail(c, "expected ':'");
            c->pos++;
        }
        if (!chk_value(c)) return false;
        skip_ws(c);
        if (c->pos >= c->len) return fail(c, object ? "unclosed object" : "unclosed array");
        char ch = c->s[c->pos];
        if (ch == close) {
            c->pos++;
            c->depth--;
            return true;
        }
        if (ch != ',') return fail(c, object ? "expected ',' or '}'" : "expected ',' or ']'");
        c->pos++;
        skip_ws(c);
        if (c->pos < c->len && c->s[c->pos] == close) return fail(c, "trailing comma");
    }
}

static bool chk_value(chk *c)
{
    skip_ws(c);
    if (c->pos >= c->len) return fail(c, "expected a value");
    switch (c->s[c->pos]) {
    case '{':
        return chk_container(c, '}', true);
    case '[':
        return chk_container(c, ']', false);
    case '"':
        return chk_string(c);
    case 't':
        return chk_literal(c, "true");
    case 'f':
        return chk_literal(c, "false");
    case 'n':
        return chk_literal(c, "null");
    default:
        if (c->s[c->pos] == '-' || is_digit(c->s[c->pos])) return chk_number(c);
        return fail(c, "unexpected character");
    }
}

static bool check_text(const char *s, size_t len, char *err, size_t errlen)
{
    chk c = {.s = s, .len = len, .err = err, .errlen = errlen};
    if (!chk_value(&c)) return false;
    skip_ws(&c);
    if (c.pos != len) return fail(&c, "unexpected data after the JSON value");
    return true;
}

bool json_valid(const char *text, size_t len)
{
    return check_text(text, len, NULL, 0);
}

/* ---------------------------------------------------------------------------------------- */
/* Tokens                                                                                    */
/* ---------------------------------------------------------------------------------------- */

jdoc *jdoc_parse(const char *text, size_t len, char *errbuf, size_t errlen, bool *oom)
{
    *oom = false;
    if (len > (size_t)INT_MAX) {
        snprintf(errbuf, errlen, "document too large");
        return NULL;
    }
    if (!check_text(text, len, errbuf, errlen)) return NULL;
    jsmn_parser p;
    jsmn_init(&p);
    int n = jsmn_parse(&p, text, len, NULL, 0);
    if (n <= 0) {
        /* Unreachable for checked text; kept so a jsmn disagreement is an error, not UB. */
        snprintf(errbuf, errlen, "unparseable JSON");
        return NULL;
    }
    jdoc *d = calloc(1, sizeof *d);
    jsmntok_t *t = calloc((size_t)n, sizeof *t);
    if (!d || !t) {
        free(d);
        free(t);
        *oom = true;
        snprintf(errbuf, errlen, "out of memory");
        return NULL;
    }
    jsmn_init(&p);
    if (jsmn_parse(&p, text, len, t, (unsigned)n) != n) {
        free(d);
        free(t);
        snprintf(errbuf, errlen, "unparseable JSON");
        return NULL;
    }
    d->js = text;
    d->len = len;
    d->t = t;
    d->n = n;
    return d;
}

void jdoc_free(jdoc *doc)
{
    if (!doc) return;
    free(doc->t);
    free(doc);
}

jtype jdoc_type(const jdoc *doc, int tok)
{
    const jsmntok_t *t = &doc->t[tok];
    switch (t->type) {
    case JSMN_OBJECT:
        return J_OBJECT;
    case JSMN_ARRAY:
        return J_ARRAY;
    case JSMN_STRING:
        return J_STRING;
    default:
        break;
    }
    switch (doc->js[t->start]) {
    case 't':
        return J_TRUE;
    case 'f':
        return J_FALSE;
    case 'n':
        return J_NULL;
    default:
        return J_NUMBER;
    }
}

int jdoc_size(const jdoc *doc, int tok)
{
    return doc->t[tok].size;
}

int jdoc_child(const jdoc *doc, int tok)
{
    return tok + 1;
}

int jdoc_next(const jdoc *doc, int tok)
{
    /* Tokens are in pre-order and a subtree's tokens all start inside its span. */
    int end = doc->t[tok].end;
    int i = tok + 1;
    while (i < doc->n && doc->t[i].start < end) i++;
    return i;
}

const char *jdoc_raw(const jdoc *doc, int tok, size_t *len)
{
    const jsmntok_t *t = &doc->t[tok];
    int start = t->start, end = t->end;
    if (t->type == JSMN_STRING) { /* jsmn leaves the quotes out of a string's span */
        start--;
        end++;
    }
    *len = (size_t)(end - start);
    return doc->js + start;
}

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    return ch - 'A' + 10;
}

static unsigned read_u4(const char *p)
{
    return (unsigned)(hexval(p[0]) << 12 | hexval(p[1]) << 8 | hexval(p[2]) << 4 | hexval(p[3]));
}

static size_t put_utf8(char *o, unsigned cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Decodes an already-checked string body; output is never longer than the input. */
static size_t decode_string(char *out, const char *s, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '\\') {
            out[o++] = s[i];
            continue;
        }
        char e = s[++i];
        switch (e) {
        case 'b':
            out[o++] = '\b';
            break;
        case 'f':
            out[o++] = '\f';
            break;
        case 'n':
            out[o++] = '\n';
            break;
        case 'r':
            out[o++] = '\r';
            break;
        case 't':
            out[o++] = '\t';
            break;
        case 'u': {
            unsigned cp = read_u4(s + i + 1);
            i += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF && i + 6 < n && s[i + 1] == '\\' && s[i + 2] == 'u') {
                unsigned lo = read_u4(s + i + 3);
                if (lo >= 0xDC00 && lo <= 0xDFFF) {
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    i += 6;
                } else {
                    cp = 0xFFFD;
                }
            } else if (cp >= 0xD800 && cp <= 0xDFFF) {
                cp = 0xFFFD; /* lone surrogate: Go's decoder substitutes U+FFFD too */
            }
            o += put_utf8(out + o, cp);
            break;
        }
        default: /* " \ / */
            out[o++] = e;
            break;
        }
    }
    out[o] = '\0';
    return o;
}

char *jdoc_strdup(const jdoc *doc, int tok, size_t *len)
{
    const jsmntok_t *t = &doc->t[tok];
    size_t n = (size_t)(t->end - t->start);
    char *out = malloc(n + 1);
    if (!out) return NULL;
    size_t l = decode_string(out, doc->js + t->start, n);
    if (len) *len = l;
    return out;
}

/* Member names are compared after decoding only when they hold escapes (rare). */
static bool name_matches(const jdoc *doc, int tok, const char *name)
{
    const jsmntok_t *t = &doc->t[tok];
    const char *s = doc->js + t->start;
    size_t n = (size_t)(t->end - t->start);
    size_t want = strlen(name);
    char tmp[128];
    if (memchr(s, '\\', n)) {
        /* Each decoded byte takes at most 6 bytes of escapes ("\u0063"), so longer raw text
         * cannot match; within that bound, decode and compare as Go's encoding/json does. */
        if (n > 6 * want || n >= sizeof tmp) return false;
        n = decode_string(tmp, s, n);
        s = tmp;
    }
    if (n != want) return false;
    for (size_t i = 0; i < n; i++) {
        char a = s[i], b = name[i];
        if (a >= 'A' && a <= 'Z') a = (char)(a - 'A' + 'a');
        if (b >= 'A' && b <= 'Z') b = (char)(b - 'A' + 'a');
        if (a != b) return false;
    }
    return true;
}

int jdoc_get(const jdoc *doc, int obj, const char *name)
{
    int found = -1;
    int k = obj + 1;
    for (int m = 0; m < doc->t[obj].size; m++) {
        int v = k + 1;
        if (name_matches(doc, k, name)) found = v;
        k = jdoc_next(doc, v);
    }
    return found;
}

/* ---------------------------------------------------------------------------------------- */
/* Output                                                                                    */
/* ---------------------------------------------------------------------------------------- */

static bool jb_reserve(jbuf *b, size_t extra)
{
    if (b->oom) return false;
    if (b->len + extra + 1 <= b->cap) return true;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1) {
        if (cap > SIZE_MAX / 2) {
            b->oom = true;
            return false;
        }
        cap *= 2;
    }
    char *p = realloc(b->data, cap);
    if (!p) {
        b->oom = true;
        return false;
    }
    b->data = p;
    b->cap = cap;
    return true;
}

void jb_raw(jbuf *b, const void *p, size_t n)
{
    if (!jb_reserve(b, n)) return;
    if (n) memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void jb_lit(jbuf *b, const char *s)
{
    jb_raw(b, s, strlen(s));
}

/* Length of the valid UTF-8 sequence at p (RFC 3629: no overlongs, no surrogates), or 0. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
    unsigned c = p[0];
    size_t l;
    unsigned min;
    if (c >= 0xC2 && c <= 0xDF)
        l = 2, min = 0x80;
    else if (c >= 0xE0 && c <= 0xEF)
        l = 3, min = 0x800;
    else if (c >= 0xF0 && c <= 0xF4)
        l = 4, min = 0x10000;
    else
        return 0;
    if (n < l) return 0;
    unsigned cp = c & (0xFFu >> (l + 1));
    for (size_t i = 1; i < l; i++) {
        if ((p[i] & 0xC0) != 0x80) return 0;
        cp = cp << 6 | (p[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return l;
}

void jb_str(jbuf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    /* Worst case every byte becomes \u00XX. */
    if (n > (SIZE_MAX - 2) / 6 || !jb_reserve(b, n * 6 + 2)) {
        b->oom = true;
        return;
    }
    char *o = b->data + b->len;
    *o++ = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        switch (ch) {
        case '"':
            *o++ = '\\';
            *o++ = '"';
            break;
        case '\\':
            *o++ = '\\';
            *o++ = '\\';
            break;
        case '\n':
            *o++ = '\\';
            *o++ = 'n';
            break;
        case '\r':
            *o++ = '\\';
            *o++ = 'r';
            break;
        case '\t':
            *o++ = '\\';
            *o++ = 't';
            break;
        default:
            if (ch < 0x20) {
                *o++ = '\\';
                *o++ = 'u';
                *o++ = '0';
                *o++ = '0';
                *o++ = hex[ch >> 4];
                *o++ = hex[ch & 15];
            } else if (ch < 0x80) {
                *o++ = (char)ch;
            } else {
                /* Keys from URLs may be any bytes; invalid UTF-8 becomes U+FFFD (as Go does)
                 * so the output stays valid JSON. */
                size_t l = utf8_len((const unsigned char *)s + i, n - i);
                if (l) {
                    memcpy(o, s + i, l);
                    o += l;
                    i += l - 1;
                } else {
                    memcpy(o, "\\ufffd", 6);
                    o += 6;
                }
            }
        }
    }
    *o++ = '"';
    b->len = (size_t)(o - b->data);
    b->data[b->len] = '\0';
}

void jb_cstr(jbuf *b, const char *s)
{
    jb_str(b, s ? s : "", s ? strlen(s) : 0);
}

char *jb_take(jbuf *b, size_t *len)
{
    if (b->oom) {
        jb_free(b);
        return NULL;
    }
    if (!b->data && !jb_reserve(b, 0)) return NULL;
    char *d = b->data;
    if (len) *len = b->len;
    b->data = NULL;
    b->len = b->cap = 0;
    return d;
}

void jb_free(jbuf *b)
{
    if (!b) return;
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
    b->oom = false;
}
