/*
 * sqlserver_tsql.h — every T-SQL batch the SQL Server driver sends, built without FreeTDS so a
 * test can check each statement and each value it carries without a server.
 *
 * Values travel as typed T-SQL literals in a DECLARE prologue (@K<i> key, @D<i> data, @E<i> the
 * expected RowVersion, @T<i> TTL seconds) followed by statements that use only the variables:
 * db-lib has no parameterised batches (its RPC path would need sp_executesql per statement), and
 * declaring every value once with its column's type keeps the statement text fixed per kind of
 * operation. The layout is Dapr's: [Key], [Data] NVARCHAR(MAX), [InsertDate], [UpdateDate],
 * [ExpireDate], [RowVersion] ROWVERSION; the ETag is the RowVersion's 8 bytes in lowercase hex.
 */
#ifndef SS_STORES_SQL_SQLSERVER_TSQL_H
#define SS_STORES_SQL_SQLSERVER_TSQL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "statestore/driver.h"

/* The error number the batches THROW when an operation's condition is not met; the message
 * carries the operation's index (SS_SQLSERVER_COND_TEXT then the index). */
#define SS_SQLSERVER_COND_ERROR 50100
#define SS_SQLSERVER_COND_TEXT  "statestore: condition not met: operation "

/* Dapr's RowVersion ETag: 8 bytes as 16 lowercase hex digits, and the NUL. */
#define SS_SQLSERVER_ETAG_LEN 16

typedef enum ss_sqlserver_key_type {
    SS_SQLSERVER_KEY_STRING,  /* NVARCHAR(keyLength) */
    SS_SQLSERVER_KEY_UUID,    /* UNIQUEIDENTIFIER */
    SS_SQLSERVER_KEY_INTEGER, /* INT */
} ss_sqlserver_key_type;

/* The names and key column type the statements are built for. */
typedef struct ss_sqlserver_tsql {
    char *schema, *table_name, *meta_name; /* bare identifiers, checked */
    char *table, *meta;                    /* "[schema].[name]" */
    char *key_type_sql;                    /* "NVARCHAR(200)", "UNIQUEIDENTIFIER", "INT" */
    ss_sqlserver_key_type key_type;
} ss_sqlserver_tsql;

/* Checks the names (letters, digits, _, at most 128) and keyType ("string", "uuid", "integer")
 * and keyLength (1..4000, string keys only); INVALID naming the property otherwise. */
ss_code ss_sqlserver_tsql_init(ss_sqlserver_tsql *t, const char *schema, const char *table,
                               const char *meta, const char *key_type, int64_t key_length,
                               ss_error *err);
void ss_sqlserver_tsql_free(ss_sqlserver_tsql *t);

/* Creates the schema and both tables when missing, as Dapr's migration does. Caller frees. */
char *ss_sqlserver_migrate_sql(const ss_sqlserver_tsql *t);

/* One key's live row: result columns [Data], [RowVersion]. */
ss_code ss_sqlserver_get_sql(const ss_sqlserver_tsql *t, const ss_op *op, char **out,
                             ss_error *err);

/* The live rows of ops[0..count): result columns request index, [Data], [RowVersion]. */
ss_code ss_sqlserver_bulk_get_sql(const ss_sqlserver_tsql *t, const ss_op *ops, size_t count,
                                  char **out, ss_error *err);

typedef enum ss_sqlserver_batch_kind {
    /* One set/delete in its own transaction; a set ends with one row: the new RowVersion. */
    SS_SQLSERVER_WRITE,
    /* All ops in one transaction, in order, rolled back by the first unmet condition (THROW
     * SS_SQLSERVER_COND_ERROR naming its index) or any error (XACT_ABORT). No result rows. */
    SS_SQLSERVER_TX,
    /* Each op in its own transaction inside TRY/CATCH; ends with one row per op: index, error
     * number (0 = done), error message, new RowVersion (sets). */
    SS_SQLSERVER_BULK,
} ss_sqlserver_batch_kind;

/* Whether op can be sent: INVALID for a key or value that is not UTF-8 text without NUL
 * ([Key] and [Data] are NVARCHAR, so anything else could not be stored unchanged) or a TTL above
 * INT; ETAG_INVALID for a MATCH ETag that is not a RowVersion. Only the reason is in err. */
ss_code ss_sqlserver_check_op(const ss_sqlserver_tsql *t, const ss_op *op, ss_error *err);

/* Fails as ss_sqlserver_check_op does for the first op that cannot be sent. */
ss_code ss_sqlserver_write_sql(const ss_sqlserver_tsql *t, ss_sqlserver_batch_kind kind,
                               const ss_op *ops, size_t count, char **out, ss_error *err);

/* Dapr's cleanup: at most once per interval_ms across processes (the metadata table's
 * last-cleanup row), delete expired rows. One result row: the rows deleted, or -1. */
char *ss_sqlserver_sweep_sql(const ss_sqlserver_tsql *t, int64_t interval_ms);

/* Whether etag is a RowVersion ETag (16 hex digits). */
bool ss_sqlserver_etag_ok(const char *etag);
/* rv's 8 bytes as Dapr writes them. */
void ss_sqlserver_etag_text(const unsigned char rv[8], char out[SS_SQLSERVER_ETAG_LEN + 1]);

/* The ss_code for SQL Server error `number` (conditions, conversions, transients, ...). */
ss_code ss_sqlserver_error_code(long number);

/* The operation index in a SS_SQLSERVER_COND_ERROR message; false if it has none. */
bool ss_sqlserver_cond_index(const char *message, size_t *idx);

#endif
