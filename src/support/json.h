/*
 * json.h — strict JSON reading and JSON string writing, shared by the daemon and the CLI.
 *
 * Reading keeps the exact text of every value (12345678901234567890 and 1.10 keep every digit,
 * escapes and member order survive), because statestored stores a request's `value` byte for
 * byte. Every document is first checked against RFC 8259 with a message naming what was wrong
 * and where ("trailing comma at byte 12"); then jsmn tokenises it. Small documents need no heap
 * allocation: the first SS_JSON_INLINE_TOKENS tokens live in the caller's ss_json.
 *
 * Writing appends to an ss_buf (support/strbuf.h).
 */
#ifndef SS_SUPPORT_JSON_H
#define SS_SUPPORT_JSON_H

#include <stdbool.h>
#include <stddef.h>

#include "support/arena.h"
#include "support/strbuf.h"

typedef enum ss_json_type {
    SS_JSON_OBJECT = 1,
    SS_JSON_ARRAY,
    SS_JSON_STRING,
    SS_JSON_NUMBER,
    SS_JSON_TRUE,
    SS_JSON_FALSE,
    SS_JSON_NULL,
} ss_json_type;

/* Parse flags. */
enum {
    /* Strings must be Unicode text: raw bytes that are not UTF-8 are refused ("invalid UTF-8 in
     * string at byte N"), and ss_json_string fails on a \u escape that is a lone surrogate.
     * Without it, strings are handled as Go's encoding/json does (lone surrogates decode to
     * U+FFFD, raw bytes are kept). */
    SS_JSON_UTF8 = 1u,
};

enum { SS_JSON_INLINE_TOKENS = 48 };

/* jsmn's token (jsmntok_t with JSMN_PARENT_LINKS); json.c checks that the layouts agree. */
typedef struct ss_json_tok {
    int type, start, end, size, parent;
} ss_json_tok;

/*
 * A parsed document. Caller-allocated (usually on the stack); the text is borrowed and must
 * outlive it; release with ss_json_dispose. The fields are private.
 */
typedef struct ss_json {
    const char *text;
    size_t len;
    unsigned flags;
    int count;
    ss_json_tok *tok; /* `inline_tok` or a heap array */
    ss_json_tok inline_tok[SS_JSON_INLINE_TOKENS];
} ss_json;

typedef enum ss_json_result {
    SS_JSON_OK = 0,
    SS_JSON_INVALID, /* err says what and where */
    SS_JSON_NOMEM,
} ss_json_result;

/*
 * Checks text[0..len) strictly (one RFC 8259 value, surrounding whitespace allowed, nesting at
 * most 512 deep) and tokenises it into *doc. On failure err (may be NULL) receives a message
 * naming the problem and its byte offset; *doc then needs no dispose (calling it is harmless).
 */
ss_json_result ss_json_parse(ss_json *doc, const char *text, size_t len, unsigned flags, char *err,
                             size_t errlen);
void ss_json_dispose(ss_json *doc);

/* The check alone: true when text[0..len) is one strict JSON value. */
bool ss_json_valid(const char *text, size_t len, unsigned flags, char *err, size_t errlen);

/* Token 0 is the root. An object's children are its member names, each followed by its value. */
ss_json_type ss_json_typeof(const ss_json *doc, int tok);
/* Elements of an array, or members of an object. */
int ss_json_size(const ss_json *doc, int tok);
/* The first child of an array or object (for an object: the first member's name). */
int ss_json_child(const ss_json *doc, int tok);
/* The token after tok's whole subtree: its next sibling when there is one. */
int ss_json_next(const ss_json *doc, int tok);
/* The exact text of a value, quotes included for strings. */
const char *ss_json_raw(const ss_json *doc, int tok, size_t *len);
/*
 * The value of member `name` of object `obj`, or -1 (also when obj is not an object). Names are
 * compared after decoding their escapes, like Go's encoding/json; nocase makes the comparison
 * ASCII case-insensitive, as Go's is. The last of duplicate members wins.
 */
int ss_json_get(const ss_json *doc, int obj, const char *name, bool nocase);
/*
 * Decodes a string token (escapes resolved, UTF-8) into a NUL-terminated string allocated in
 * `a`; *len (may be NULL) gets its length, shorter than strlen when it holds \u0000. NULL when
 * tok is not a string, on out-of-memory (a->oom is then set), or, with SS_JSON_UTF8, when it
 * holds a lone surrogate escape.
 */
char *ss_json_string(const ss_json *doc, int tok, ss_arena *a, size_t *len);

/*
 * Appends s[0..n) as a JSON string with its quotes: '"', '\\' and control characters escaped,
 * valid UTF-8 copied, and each byte that is not part of valid UTF-8 written as \ufffd (as Go
 * does), so the output is always valid JSON.
 */
void ss_json_put_str(ss_buf *b, const char *s, size_t n);
/* The same for a NUL-terminated string; NULL is written as "". */
void ss_json_put_cstr(ss_buf *b, const char *s);

#endif
