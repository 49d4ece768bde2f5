/*
 * test_text.c — src/support's JSON and text toolkit on its own: the strict reader's exact value
 * text and its error messages, Go-like member names and strings, the SS_JSON_UTF8 mode the CLI
 * uses, documents larger than the inline tokens, the string writer, ss_buf, ss_arena,
 * percent-decoding in each mode, base64 padding and UTF-8 sequences.
 */
#include "check.h"

#include "support/arena.h"
#include "support/base64.h"
#include "support/json.h"
#include "support/pct.h"
#include "support/strbuf.h"
#include "support/utf8.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

static ss_json_result parse(ss_json *d, const char *text, unsigned flags, char *err, size_t n)
{
    return ss_json_parse(d, text, strlen(text), flags, err, n);
}

/* The raw text of member `name` of the root object, as a new string (for comparisons). */
static char *raw_member(const ss_json *d, const char *name, bool nocase)
{
    int t = ss_json_get(d, 0, name, nocase);
    if (t < 0) return NULL;
    size_t n;
    const char *r = ss_json_raw(d, t, &n);
    char *s = malloc(n + 1);
    if (s) {
        memcpy(s, r, n);
        s[n] = '\0';
    }
    return s;
}

static void test_exact_values(void)
{
    ss_json d;
    char err[128];
    const char *text = " {\"big\": 12345678901234567890, \"dec\": 1.10, \"s\": \"a\\u00e9\\n\","
                       " \"o\": {\"z\": 1, \"a\": [true, false, null]}} ";
    CHECK(parse(&d, text, 0, err, sizeof err) == SS_JSON_OK);
    char *v = raw_member(&d, "big", false);
    CHECK_STR(v, "12345678901234567890");
    free(v);
    v = raw_member(&d, "dec", false);
    CHECK_STR(v, "1.10");
    free(v);
    v = raw_member(&d, "s", false);
    CHECK_STR(v, "\"a\\u00e9\\n\"");
    free(v);
    v = raw_member(&d, "o", false);
    CHECK_STR(v, "{\"z\": 1, \"a\": [true, false, null]}");
    free(v);
    int o = ss_json_get(&d, 0, "o", false);
    CHECK(ss_json_typeof(&d, o) == SS_JSON_OBJECT && ss_json_size(&d, o) == 2);
    int a = ss_json_get(&d, o, "a", false);
    CHECK(ss_json_typeof(&d, a) == SS_JSON_ARRAY && ss_json_size(&d, a) == 3);
    int e = ss_json_child(&d, a);
    CHECK(ss_json_typeof(&d, e) == SS_JSON_TRUE);
    e = ss_json_next(&d, e);
    CHECK(ss_json_typeof(&d, e) == SS_JSON_FALSE);
    e = ss_json_next(&d, e);
    CHECK(ss_json_typeof(&d, e) == SS_JSON_NULL);
    CHECK(ss_json_typeof(&d, ss_json_get(&d, 0, "big", false)) == SS_JSON_NUMBER);
    ss_arena ar = {0};
    size_t n;
    char *s = ss_json_string(&d, ss_json_get(&d, 0, "s", false), &ar, &n);
    CHECK_STR(s, "a\xc3\xa9\n");
    CHECK(n == 4);
    CHECK(ss_json_string(&d, o, &ar, &n) == NULL && !ar.oom); /* not a string */
    ss_arena_free(&ar);
    ss_json_dispose(&d);
}

static void test_errors(void)
{
    static const struct {
        const char *text, *want;
    } bad[] = {
        {"[1,]", "trailing comma at byte 3"},
        {"{\"a\":1,}", "trailing comma at byte 7"},
        {"[01]", "invalid number (leading zero) at byte 2"},
        {"[1.]", "invalid number (no digit after '.') at byte 3"},
        {"[1e]", "invalid number (bad exponent) at byte 3"},
        {"[-]", "invalid number at byte 2"},
        {"tru", "invalid literal at byte 0"},
        {"[\"a\\x\"]", "invalid escape in string at byte 4"},
        {"[\"\\u12g4\"]", "invalid \\u escape in string at byte 3"},
        {"[\"a\tb\"]", "control character in string at byte 3"},
        {"[1] 2", "unexpected data after the JSON value at byte 4"},
        {"[1", "unclosed array at end of input (truncated?)"},
        {"{\"a\"", "expected ':' at end of input (truncated?)"},
        {"[\"abc", "unterminated string at end of input (truncated?)"},
        {"", "expected a value at end of input (truncated?)"},
        {"{1:2}", "expected a member name (string) at byte 1"},
        {"[1 2]", "expected ',' or ']' at byte 3"},
        {"@", "unexpected character at byte 0"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ss_json d;
        char err[128] = "";
        CHECK(parse(&d, bad[i].text, 0, err, sizeof err) == SS_JSON_INVALID);
        CHECK_STR(err, bad[i].want);
        CHECK(!ss_json_valid(bad[i].text, strlen(bad[i].text), 0, NULL, 0));
        ss_json_dispose(&d); /* harmless after a failure */
    }
    /* Nesting: 512 levels are fine, 513 are not. */
    char deep[1100];
    for (int depth = 512; depth <= 513; depth++) {
        memset(deep, '[', (size_t)depth);
        memset(deep + depth, ']', (size_t)depth);
        char err[128] = "";
        bool ok = ss_json_valid(deep, 2 * (size_t)depth, 0, err, sizeof err);
        CHECK(ok == (depth == 512));
        if (!ok) CHECK_CONTAINS(err, "nested too deeply");
    }
}

static void test_names_and_strings(void)
{
    ss_json d;
    char err[128];
    /* Escaped names match as Go's encoding/json decodes them, whatever their length; the last
     * duplicate wins; nocase folds ASCII only. */
    const char *text = "{\"\\u0063\\u006f\\u006e\\u0073\\u0069\\u0073\\u0074\\u0065\\u006e\\u0063"
                       "\\u0079\":1, \"Key\":2, \"key\":3, \"k\\u0000\":4, \"\\ud83d\\ude00\":5}";
    CHECK(parse(&d, text, 0, err, sizeof err) == SS_JSON_OK);
    char *v = raw_member(&d, "consistency", false);
    CHECK_STR(v, "1");
    free(v);
    v = raw_member(&d, "CONSISTENCY", true);
    CHECK_STR(v, "1");
    free(v);
    CHECK(ss_json_get(&d, 0, "CONSISTENCY", false) < 0);
    v = raw_member(&d, "Key", false);
    CHECK_STR(v, "2");
    free(v);
    v = raw_member(&d, "KEY", true);
    CHECK_STR(v, "3");
    free(v);
    CHECK(ss_json_get(&d, 0, "k", false) < 0); /* "k\u0000" is not "k" */
    v = raw_member(&d, "\xf0\x9f\x98\x80", false);
    CHECK_STR(v, "5");
    free(v);
    ss_json_dispose(&d);

    /* A lone surrogate decodes to U+FFFD, as Go does; with SS_JSON_UTF8 it is refused. */
    ss_arena ar = {0};
    size_t n;
    CHECK(parse(&d, "[\"a\\ud800b\", \"\\udc00\\u0041\"]", 0, err, sizeof err) == SS_JSON_OK);
    CHECK_STR(ss_json_string(&d, 1, &ar, &n), "a\xef\xbf\xbd"
                                              "b");
    CHECK_STR(ss_json_string(&d, 2, &ar, &n), "\xef\xbf\xbd"
                                              "A");
    ss_json_dispose(&d);
    CHECK(parse(&d, "[\"a\\ud800b\"]", SS_JSON_UTF8, err, sizeof err) == SS_JSON_OK);
    CHECK(ss_json_string(&d, 1, &ar, &n) == NULL && !ar.oom);
    ss_json_dispose(&d);

    /* Raw bytes that are not UTF-8: kept by default, refused with SS_JSON_UTF8. */
    const char *raw = "[\"\xff\"]";
    CHECK(parse(&d, raw, 0, err, sizeof err) == SS_JSON_OK);
    CHECK_STR(ss_json_string(&d, 1, &ar, &n), "\xff");
    ss_json_dispose(&d);
    CHECK(parse(&d, raw, SS_JSON_UTF8, err, sizeof err) == SS_JSON_INVALID);
    CHECK_STR(err, "invalid UTF-8 in string at byte 2");
    CHECK(parse(&d, "[\"\xc3\xa9\xf0\x9f\x98\x80\"]", SS_JSON_UTF8, err, sizeof err) == SS_JSON_OK);
    ss_json_dispose(&d);
    ss_arena_free(&ar);
}

static void test_large_document(void)
{
    /* Far more tokens than fit inline: the parse continues in a heap array. */
    ss_buf b = {0};
    ss_buf_str(&b, "{\"keys\":[");
    for (int i = 0; i < 5000; i++) {
        char item[32];
        snprintf(item, sizeof item, "%s\"k%d\"", i ? "," : "", i);
        ss_buf_str(&b, item);
    }
    ss_buf_str(&b, "],\"last\":7}");
    CHECK(!b.oom);
    ss_json d;
    char err[128];
    CHECK(ss_json_parse(&d, b.p, b.len, 0, err, sizeof err) == SS_JSON_OK);
    int keys = ss_json_get(&d, 0, "keys", false);
    CHECK(ss_json_size(&d, keys) == 5000);
    int t = ss_json_child(&d, keys);
    ss_arena ar = {0};
    bool all = true;
    for (int i = 0; i < 5000; i++, t = ss_json_next(&d, t)) {
        char want[16];
        snprintf(want, sizeof want, "k%d", i);
        const char *s = ss_json_string(&d, t, &ar, NULL);
        all = all && s && strcmp(s, want) == 0;
    }
    CHECK(all && !ar.oom);
    char *v = raw_member(&d, "last", false);
    CHECK_STR(v, "7");
    free(v);
    ss_arena_free(&ar);
    ss_json_dispose(&d);
    ss_buf_free(&b);
}

static void test_writer(void)
{
    ss_buf b = {0};
    ss_json_put_str(&b, "q\"b\\n\n\t\x01\x7f\xc3\xa9\xff|", 13);
    ss_buf_chr(&b, ' ');
    ss_json_put_cstr(&b, NULL);
    size_t n;
    char *s = ss_buf_take(&b, &n);
    CHECK_STR(s, "\"q\\\"b\\\\n\\n\\t\\u0001\x7f\xc3\xa9\\ufffd|\" \"\"");
    CHECK(s && n == strlen(s));
    CHECK(b.p == NULL && b.len == 0);
    free(s);
    /* NUL bytes are escaped, so a decoded string with \u0000 writes back the same. */
    ss_json_put_str(&b, "a\0b", 3);
    CHECK_STR(b.p, "\"a\\u0000b\"");
    ss_buf_free(&b);
    ss_buf_free(NULL);
}

static void test_arena(void)
{
    ss_arena a = {0};
    bool aligned = true, zeroed = true;
    for (size_t i = 1; i < 400; i++) {
        unsigned char *p = ss_arena_alloc(&a, i % 300);
        aligned = aligned && p && (uintptr_t)p % _Alignof(max_align_t) == 0;
        for (size_t k = 0; p && k < i % 300; k++) zeroed = zeroed && p[k] == 0;
        if (p) memset(p, 0xab, i % 300);
    }
    CHECK(aligned && zeroed && !a.oom);
    CHECK(ss_arena_alloc(&a, 100000) != NULL); /* large: its own allocation */
    char *kept = ss_arena_keep(&a, strdup("owned"));
    CHECK_STR(kept, "owned");
    CHECK(ss_arena_keep(&a, NULL) == NULL && a.oom);
    ss_arena_free(&a);
    CHECK(a.n == 0 && !a.oom);
    ss_arena_free(NULL);
}

static void test_pct(void)
{
    char out[64];
    CHECK(ss_pct_decode(out, "a%20b+c%2Fd", 11, SS_PCT_PLUS) == 7);
    CHECK_STR(out, "a b c/d");
    CHECK(ss_pct_decode(out, "a+b", 3, 0) == 3);
    CHECK_STR(out, "a+b");
    CHECK(ss_pct_decode(out, "a%zz", 4, SS_PCT_PLUS) == -1);
    CHECK(ss_pct_decode(out, "abc%4", 5, 0) == -1);
    CHECK(ss_pct_decode(out, "abc%", 4, 0) == -1);
    CHECK(ss_pct_decode(out, "a%zz%4", 6, SS_PCT_LENIENT) == 6);
    CHECK_STR(out, "a%zz%4");
    CHECK(ss_pct_decode(out, "%00x", 4, 0) == 2 && out[0] == 0 && out[1] == 'x');
    size_t n = 0;
    char *d = ss_pct_decode_alloc("p%41ss+w", 8, SS_PCT_PLUS | SS_PCT_LENIENT, &n);
    CHECK_STR(d, "pAss w");
    CHECK(n == 6);
    free(d);
    CHECK(ss_pct_decode_alloc("%g", 2, 0, NULL) == NULL);
    /* In place. */
    char buf[] = "x%41y";
    CHECK(ss_pct_decode(buf, buf, 5, 0) == 3);
    CHECK_STR(buf, "xAy");
}

static void test_base64_utf8(void)
{
    static const struct {
        const char *text, *want; /* want NULL: refused */
    } cases[] = {
        {"QQ==", "A"},  {"QQ", "A"},     {"QUI=", "AB"},     {"QUJD", "ABC"},    {"", ""},
        {"QQ=", NULL},  {"QQ===", NULL}, {"Q", NULL},        {"QQ==QQ==", NULL}, {"Q Q=", NULL},
        {"====", NULL}, {"QUJD=", NULL}, {"QUJDRA", "ABCD"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *out;
        size_t n;
        bool ok = ss_base64_decode_alloc(&out, &n, cases[i].text, strlen(cases[i].text));
        CHECK(ok == (cases[i].want != NULL));
        if (ok && cases[i].want)
            CHECK(n == strlen(cases[i].want) && strcmp(out, cases[i].want) == 0);
        free(out);
    }
    CHECK(ss_utf8_seq("a", 1) == 1);
    CHECK(ss_utf8_seq("\xc3\xa9", 2) == 2);
    CHECK(ss_utf8_seq("\xc3", 1) == 0);
    CHECK(ss_utf8_seq("\xc0\x80", 2) == 0);         /* overlong */
    CHECK(ss_utf8_seq("\xed\xa0\x80", 3) == 0);     /* surrogate */
    CHECK(ss_utf8_seq("\xf4\x90\x80\x80", 4) == 0); /* past U+10FFFF */
    CHECK(ss_utf8_seq("\xf0\x9f\x98\x80", 4) == 4);
    CHECK(ss_utf8_valid("a\0b", 3, true) && !ss_utf8_valid("a\0b", 3, false));
}

int main(void)
{
    test_exact_values();
    test_errors();
    test_names_and_strings();
    test_large_document();
    test_writer();
    test_arena();
    test_pct();
    test_base64_utf8();
    return check_done("test_text");
}
