/*
 * json.c — the one translation unit that compiles jsmn (header-only, Debian libjsmn-dev).
 *
 * jsmn is used because it hands back the exact text span of every value, which is what lets the
 * daemon store `value` byte-exact (big integers, 1.10, escapes and key order survive); jansson
 * and the other packaged parsers turn numbers into doubles or integers. But jsmn is permissive
 * (even with JSMN_STRICT, which also refuses a bare top-level number): it accepts trailing
 * commas ("[1,]"), bad literals ("tru", "01", "1."), unknown escapes and lone values after the
 * root, and it never names what was wrong. So every text first goes through the hand-written
 * RFC 8259 checker below, which rejects all of that with a message naming the problem and its
 * byte offset; jsmn then only tokenises text already known to be valid.
 */
#define JSMN_STATIC
/* Without parent links jsmn walks back over every earlier token at each ',' (quadratic). */
#define JSMN_PARENT_LINKS
#include <jsmn.h>

#include "support/json.h"
#include "support/utf8.h"

#include <limits.h>
#include <stdalign.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Deep enough for any real document; bounds the checker's recursion (no stack exhaustion). */
#define JSON_MAX_DEPTH 512

/* ss_json keeps jsmn's tokens without its header having to include jsmn.h. */
_Static_assert(sizeof(ss_json_tok) == sizeof(jsmntok_t), "ss_json_tok must mirror jsmntok_t");
_Static_assert(alignof(ss_json_tok) == alignof(jsmntok_t), "ss_json_tok must mirror jsmntok_t");
_Static_assert(offsetof(ss_json_tok, parent) == offsetof(jsmntok_t, parent),
               "ss_json_tok must mirror jsmntok_t");

/* Every access goes through jsmn's own type. */
#define TOK(doc, i) (&((const jsmntok_t *)(const void *)(doc)->tok)[i])

/* ---------------------------------------------------------------------------------------- */
/* Strict checker                                                                            */
/* ---------------------------------------------------------------------------------------- */

typedef struct chk {
    const char *s;
    size_t len;
    size_t pos;
    int depth;
    bool utf8;
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
        } else if (ch >= 0x80 && c->utf8) {
            size_t n = ss_utf8_seq(c->s + c->pos, c->len - c->pos);
            if (!n) return fail(c, "invalid UTF-8 in string");
            c->pos += n;
            continue;
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

static bool chk_container(chk *c, char close, bool object)
{
    if (++c->depth > JSON_MAX_DEPTH) return fail(c, "nested too deeply");
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
            if (c->pos >= c->len) return fail(c, "unclosed object");
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

bool ss_json_valid(const char *text, size_t len, unsigned flags, char *err, size_t errlen)
{
    chk c = {.s = text, .len = len, .utf8 = flags & SS_JSON_UTF8, .err = err, .errlen = errlen};
    if (!chk_value(&c)) return false;
    skip_ws(&c);
    if (c.pos != len) return fail(&c, "unexpected data after the JSON value");
    return true;
}

/* ---------------------------------------------------------------------------------------- */
/* Tokens                                                                                    */
/* ---------------------------------------------------------------------------------------- */

static void set_err(char *err, size_t errlen, const char *msg)
{
    if (err && errlen) snprintf(err, errlen, "%s", msg);
}

ss_json_result ss_json_parse(ss_json *doc, const char *text, size_t len, unsigned flags, char *err,
                             size_t errlen)
{
    doc->text = text;
    doc->len = len;
    doc->flags = flags;
    doc->count = 0;
    doc->tok = doc->inline_tok;
    if (len > (size_t)INT_MAX) {
        set_err(err, errlen, "document too large");
        return SS_JSON_INVALID;
    }
    if (!ss_json_valid(text, len, flags, err, errlen)) return SS_JSON_INVALID;
    /* One pass into the inline tokens; a bigger document continues (jsmn resumes after
     * JSMN_ERROR_NOMEM) in a heap array that doubles as needed. */
    jsmn_parser p;
    jsmn_init(&p);
    unsigned cap = SS_JSON_INLINE_TOKENS;
    for (;;) {
        int n = jsmn_parse(&p, text, len, (jsmntok_t *)(void *)doc->tok, cap);
        if (n > 0) {
            doc->count = n;
            return SS_JSON_OK;
        }
        if (n != JSMN_ERROR_NOMEM || cap > (unsigned)INT_MAX / 2) {
            /* Unreachable for checked text; kept so a jsmn disagreement is an error, not UB. */
            ss_json_dispose(doc);
            set_err(err, errlen, "unparseable JSON");
            return SS_JSON_INVALID;
        }
        ss_json_tok *t = doc->tok == doc->inline_tok ? NULL : doc->tok;
        ss_json_tok *grown = realloc(t, (size_t)cap * 2 * sizeof *grown);
        if (!grown) {
            ss_json_dispose(doc);
            set_err(err, errlen, "out of memory");
            return SS_JSON_NOMEM;
        }
        if (!t) memcpy(grown, doc->inline_tok, sizeof doc->inline_tok);
        doc->tok = grown;
        cap *= 2;
    }
}

void ss_json_dispose(ss_json *doc)
{
    if (!doc) return;
    if (doc->tok && doc->tok != doc->inline_tok) free(doc->tok);
    doc->tok = doc->inline_tok;
    doc->count = 0;
}

ss_json_type ss_json_typeof(const ss_json *doc, int tok)
{
    const jsmntok_t *t = TOK(doc, tok);
    switch (t->type) {
    case JSMN_OBJECT:
        return SS_JSON_OBJECT;
    case JSMN_ARRAY:
        return SS_JSON_ARRAY;
    case JSMN_STRING:
        return SS_JSON_STRING;
    default:
        break;
    }
    switch (doc->text[t->start]) {
    case 't':
        return SS_JSON_TRUE;
    case 'f':
        return SS_JSON_FALSE;
    case 'n':
        return SS_JSON_NULL;
    default:
        return SS_JSON_NUMBER;
    }
}

int ss_json_size(const ss_json *doc, int tok)
{
    return TOK(doc, tok)->size;
}

int ss_json_child(const ss_json *doc, int tok)
{
    (void)doc;
    return tok + 1;
}

int ss_json_next(const ss_json *doc, int tok)
{
    /* Tokens are in pre-order and a subtree's tokens all start inside its span. */
    int end = TOK(doc, tok)->end;
    int i = tok + 1;
    while (i < doc->count && TOK(doc, i)->start < end) i++;
    return i;
}

const char *ss_json_raw(const ss_json *doc, int tok, size_t *len)
{
    const jsmntok_t *t = TOK(doc, tok);
    int start = t->start, end = t->end;
    if (t->type == JSMN_STRING) { /* jsmn leaves the quotes out of a string's span */
        start--;
        end++;
    }
    *len = (size_t)(end - start);
    return doc->text + start;
}

/* ---------------------------------------------------------------------------------------- */
/* Strings                                                                                   */
/* ---------------------------------------------------------------------------------------- */

static unsigned hexval(char ch)
{
    if (ch >= '0' && ch <= '9') return (unsigned)(ch - '0');
    if (ch >= 'a' && ch <= 'f') return (unsigned)(ch - 'a' + 10);
    return (unsigned)(ch - 'A' + 10);
}

static unsigned read_u4(const char *p)
{
    return hexval(p[0]) << 12 | hexval(p[1]) << 8 | hexval(p[2]) << 4 | hexval(p[3]);
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

/*
 * Decodes the character at s[*i] of an already-checked string body s[0..n) into out (at most 4
 * bytes) and moves *i past it. A lone surrogate escape becomes U+FFFD, as Go's decoder does,
 * and sets *lone.
 */
static size_t decode_char(const char *s, size_t n, size_t *i, char *out, bool *lone)
{
    size_t at = *i;
    if (s[at] != '\\') {
        out[0] = s[at];
        *i = at + 1;
        return 1;
    }
    char e = s[at + 1];
    *i = at + 2;
    switch (e) {
    case 'b':
        out[0] = '\b';
        return 1;
    case 'f':
        out[0] = '\f';
        return 1;
    case 'n':
        out[0] = '\n';
        return 1;
    case 'r':
        out[0] = '\r';
        return 1;
    case 't':
        out[0] = '\t';
        return 1;
    case 'u':
        break;
    default: /* " \ / */
        out[0] = e;
        return 1;
    }
    unsigned cp = read_u4(s + at + 2);
    *i = at + 6;
    if (cp >= 0xD800 && cp <= 0xDBFF && at + 12 <= n && s[at + 6] == '\\' && s[at + 7] == 'u') {
        unsigned lo = read_u4(s + at + 8);
        if (lo >= 0xDC00 && lo <= 0xDFFF) {
            *i = at + 12;
            return put_utf8(out, 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00));
        }
    }
    if (cp >= 0xD800 && cp <= 0xDFFF) {
        *lone = true;
        cp = 0xFFFD;
    }
    return put_utf8(out, cp);
}

char *ss_json_string(const ss_json *doc, int tok, ss_arena *a, size_t *len)
{
    const jsmntok_t *t = TOK(doc, tok);
    if (t->type != JSMN_STRING) return NULL;
    const char *s = doc->text + t->start;
    size_t n = (size_t)(t->end - t->start);
    /* Decoding never makes a string longer: an escape of k bytes yields at most k. */
    char *out = ss_arena_alloc(a, n + 1);
    if (!out) return NULL;
    size_t o = 0;
    bool lone = false;
    if (!memchr(s, '\\', n)) {
        memcpy(out, s, n);
        o = n;
    } else {
        for (size_t i = 0; i < n;) o += decode_char(s, n, &i, out + o, &lone);
    }
    out[o] = '\0';
    if (lone && (doc->flags & SS_JSON_UTF8)) return NULL;
    if (len) *len = o;
    return out;
}

static char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Compares a member name token, decoded, with name; no buffer, so no length limit. */
static bool name_matches(const ss_json *doc, int tok, const char *name, bool nocase)
{
    const jsmntok_t *t = TOK(doc, tok);
    const char *s = doc->text + t->start;
    size_t n = (size_t)(t->end - t->start);
    size_t k = 0;
    for (size_t i = 0; i < n;) {
        char buf[4];
        bool lone = false;
        size_t m = decode_char(s, n, &i, buf, &lone);
        for (size_t j = 0; j < m; j++, k++) {
            if (name[k] == '\0') return false;
            if (nocase ? lower(buf[j]) != lower(name[k]) : buf[j] != name[k]) return false;
        }
    }
    return name[k] == '\0';
}

int ss_json_get(const ss_json *doc, int obj, const char *name, bool nocase)
{
    if (TOK(doc, obj)->type != JSMN_OBJECT) return -1;
    int found = -1;
    int k = obj + 1;
    for (int m = 0; m < TOK(doc, obj)->size; m++) {
        int v = k + 1;
        if (name_matches(doc, k, name, nocase)) found = v;
        k = ss_json_next(doc, v);
    }
    return found;
}

/* ---------------------------------------------------------------------------------------- */
/* Output                                                                                    */
/* ---------------------------------------------------------------------------------------- */

void ss_json_put_str(ss_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    /* Worst case every byte becomes \u00XX. */
    if (n > (SIZE_MAX - 2) / 6) {
        b->oom = true;
        return;
    }
    if (!ss_buf_reserve(b, n * 6 + 2)) return;
    char *o = b->p + b->len;
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
                memcpy(o, "\\u00", 4);
                o[4] = hex[ch >> 4];
                o[5] = hex[ch & 15];
                o += 6;
            } else if (ch < 0x80) {
                *o++ = (char)ch;
            } else {
                /* Keys from URLs may be any bytes: invalid UTF-8 becomes U+FFFD. */
                size_t l = ss_utf8_seq(s + i, n - i);
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
    b->len = (size_t)(o - b->p);
    b->p[b->len] = '\0';
}

void ss_json_put_cstr(ss_buf *b, const char *s)
{
    ss_json_put_str(b, s ? s : "", s ? strlen(s) : 0);
}
