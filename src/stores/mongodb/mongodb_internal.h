/*
 * mongodb_internal.h — the documents the mongodb driver sends and the ones it reads, apart from
 * the driver so that unit tests can check their exact shape and fuzzers can feed the readers.
 *
 * Layout (Dapr's state.mongodb): one document per key in one collection,
 *   { _id: <key>, value: <value>, _etag: <UUID text>, _ttl: <date> | null }
 * with a TTL index { _ttl: 1 } (expireAfterSeconds 0). A key that is valid UTF-8 is a string
 * _id (as Dapr writes it); other bytes a binary _id. A value that is valid UTF-8 is a string
 * (what Dapr stores for byte values), other bytes BSON binary; either is returned byte-exact.
 */
#ifndef SS_MONGODB_INTERNAL_H
#define SS_MONGODB_INTERNAL_H

#include <statestore.h>
#include <statestore/driver.h>

#include <bson/bson.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SS_MONGO_ID   "_id"
#define SS_MONGO_VAL  "value"
#define SS_MONGO_ETAG "_etag"
#define SS_MONGO_TTL  "_ttl"

/* Appends key under field: a string when valid UTF-8, else binary (subtype 0). */
bool ss_mongo_append_key(bson_t *doc, const char *field, const char *key, size_t len);

/* True when the _id at iter is the key (same type rule and bytes). */
bool ss_mongo_key_equals(const bson_iter_t *iter, const char *key, size_t len);

/* The filter of a write: {_id: key}; with etag also {_etag: etag} and, when now_ms > 0, "not
 * expired at now_ms": {$or: [{_ttl: null}, {_ttl: {$gt: now}}]} (MongoDB's TTL monitor runs
 * only every 60 s, so an expired document may still be there). */
bool ss_mongo_filter(bson_t *out, const char *key, size_t len, const char *etag, int64_t now_ms);

/* {_id: key, _ttl: {$lte: now}}: an expired document that first-write may replace. */
bool ss_mongo_expired_filter(bson_t *out, const char *key, size_t len, int64_t now_ms);

/* The whole document of a set: {_id, value, _etag, _ttl}. _ttl is now_ms + the op's TTL as a
 * date, or null without one (as Dapr writes it). */
bool ss_mongo_document(bson_t *out, const ss_op *op, const char *etag, int64_t now_ms);

/*
 * Reads one stored document into *out (a new ss_value with its ETag and ttlExpireTime), or
 * leaves *out NULL when the document has expired at now_ms. A value of another BSON type than
 * string or binary (a JSON document Dapr stored from an HTTP request) comes back as relaxed
 * Extended JSON text. A document without a usable value or _etag is a BACKEND error naming
 * what is wrong.
 */
ss_code ss_mongo_read_doc(const bson_t *doc, int64_t now_ms, ss_value **out, ss_error *err);

/* From a `hello` / `isMaster` reply: whether the server can run transactions (a replica-set
 * member, setName present, or a mongos router, msg "isdbgrid"). */
bool ss_mongo_hello_transactional(const bson_t *hello);

#endif
