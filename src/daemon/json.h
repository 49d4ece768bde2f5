/*
 * json.h — the daemon's JSON reading (strict check + jsmn tokens that keep raw text spans) and
 * writing (a growable buffer with RFC 8259 string escaping). Internal to statestored.
 */
#ifndef SS_DAEMON_JSON_H
#define SS_DAEMON_JSON_H

#include <stdbool.h>
#include <stddef.h>

typedef enum jtype {
    J_OBJECT = 1,
    J_ARRAY,
    J_STRING,
    J_NUMBER,
    J_TRUE,
    J_FALSE,
    J_NULL,
} jtype;

/* A parsed document: the text is borrowed, the token array is owned (free with jdoc_free). */
typedef struct jdoc jdoc;

/*
 * Checks `text` strictly against RFC 8259 and tokenises it. On failure returns NULL and writes a
 * message naming what was wrong and where into errbuf (e.g. "trailing comma at byte 12").
 * *oom is set when the failure was an allocation failure.
 */
jdoc *jdoc_parse(const char *text, size_t len, char *errbuf, size_t errlen, bool *oom);
void jdoc_free(jdoc *doc);

/* Token 0 is the root. */
jtype jdoc_type(const jdoc *doc, int tok);
/* Number of elements of an array, or members of an object. */
int jdoc_size(const jdoc *doc, int tok);
/* The first child of an array/object (for an object: the first member's name token). */
int jdoc_child(const jdoc *doc, int tok);
/* The token after tok's whole subtree (its next sibling, when there is one). */
int jdoc_next(const jdoc *doc, int tok);
/* Raw text of a value, quotes included for strings: stored and returned byte-exact. */
const char *jdoc_raw(const jdoc *doc, int tok, size_t *len);
/* An object member by name, ASCII case-insensitive like Go's encoding/json; last one wins; -1 if
 * absent. */
int jdoc_get(const jdoc *doc, int obj, const char *name);
/* Decodes a string token (escapes resolved, UTF-8) into a new NUL-terminated string; NULL on OOM.
 * *len (may be NULL) receives its length, which may be shorter than strlen when it holds \u0000. */
char *jdoc_strdup(const jdoc *doc, int tok, size_t *len);

/* True when text is one complete strict JSON value. */
bool json_valid(const char *text, size_t len);

/* Output buffer. On allocation failure `oom` is set and further writes are dropped. */
typedef struct jbuf {
    char *data;
    size_t len;
    size_t cap;
    bool oom;
} jbuf;

void jb_raw(jbuf *b, const void *p, size_t n);
void jb_lit(jbuf *b, const char *s);
/* A JSON string with quotes; bytes >= 0x80 are copied as they are, controls escaped. */
void jb_str(jbuf *b, const char *s, size_t n);
void jb_cstr(jbuf *b, const char *s);
/* Hands the data (NUL-terminated) to the caller and resets b; NULL if oom. */
char *jb_take(jbuf *b, size_t *len);
void jb_free(jbuf *b);

#endif
