/* sqlserver_tsql.c — the SQL Server driver's T-SQL batches; see sqlserver_tsql.h. */
#include "stores/sql/sqlserver_tsql.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stores/sql/sqlserver_conn.h"
#include "support/strbuf.h"
#include "support/utf8.h"

#define TS_LIVE "([ExpireDate] IS NULL OR [ExpireDate] > GETDATE())"

static bool ts_ident_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 128) return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '_') return false;
    return true;
}

ss_code ss_sqlserver_tsql_init(ss_sqlserver_tsql *t, const char *schema, const char *table,
                               const char *meta, const char *key_type, int64_t key_length,
                               ss_error *err)
{
    memset(t, 0, sizeof *t);
    const char *names[] = {"schema", "tableName", "metadataTableName"};
    const char *vals[] = {schema, table, meta};
    for (int i = 0; i < 3; i++)
        if (!ts_ident_ok(vals[i]))
            return ss_error_set(err, SS_INVALID,
                                "property %s: \"%s\" is not a valid name (letters, digits and _, "
                                "at most 128)",
                                names[i], vals[i]);
    if (!strcmp(key_type, "string")) {
        if (key_length < 1 || key_length > 4000)
            return ss_error_set(err, SS_INVALID,
                                "property keyLength: %" PRId64 " is outside 1..4000", key_length);
        t->key_type = SS_SQLSERVER_KEY_STRING;
        t->key_type_sql = ss_asprintf("NVARCHAR(%" PRId64 ")", key_length);
    } else if (!strcmp(key_type, "uuid")) {
        t->key_type = SS_SQLSERVER_KEY_UUID;
        t->key_type_sql = ss_strdup("UNIQUEIDENTIFIER");
    } else if (!strcmp(key_type, "integer")) {
        t->key_type = SS_SQLSERVER_KEY_INTEGER;
        t->key_type_sql = ss_strdup("INT");
    } else {
        return ss_error_set(err, SS_INVALID,
                            "property keyType: \"%s\" is not one of string, uuid, integer",
                            key_type);
    }
    t->schema = ss_strdup(schema);
    t->table_name = ss_strdup(table);
    t->meta_name = ss_strdup(meta);
    t->table = ss_asprintf("[%s].[%s]", schema, table);
    t->meta = ss_asprintf("[%s].[%s]", schema, meta);
    if (!t->key_type_sql || !t->schema || !t->table_name || !t->meta_name || !t->table ||
        !t->meta) {
        ss_sqlserver_tsql_free(t);
        return ss_error_set(err, SS_NOMEM, "out of memory");
    }
    return SS_OK;
}

void ss_sqlserver_tsql_free(ss_sqlserver_tsql *t)
{
    free(t->schema);
    free(t->table_name);
    free(t->meta_name);
    free(t->table);
    free(t->meta);
    free(t->key_type_sql);
    memset(t, 0, sizeof *t);
}

/* printf into the buffer: the statements are short, the values go through ts_literal. */
static void ts_fmt(ss_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void ts_fmt(ss_buf *b, const char *fmt, ...)
{
    char tmp[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof tmp) {
        b->oom = true; /* never happens: every format here is bounded far below */
        return;
    }
    ss_buf_add(b, tmp, (size_t)n);
}

/* N'...' with every ' doubled: the only character a Unicode string literal escapes. */
static void ts_literal(ss_buf *b, const char *s, size_t n)
{
    ss_buf_str(b, "N'");
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\'') ss_buf_chr(b, '\'');
        ss_buf_chr(b, s[i]);
    }
    ss_buf_chr(b, '\'');
}

static ss_code ts_declare_key(ss_buf *b, const ss_sqlserver_tsql *t, const ss_op *op, size_t i,
                              ss_error *err)
{
    if (!ss_utf8_valid(op->key, op->key_len, false))
        return ss_error_set(err, SS_INVALID, "key is not UTF-8 text (the key column is %s)",
                            t->key_type_sql);
    ts_fmt(b, "DECLARE @K%zu %s = ", i, t->key_type_sql);
    ts_literal(b, op->key, op->key_len);
    ss_buf_str(b, ";\n");
    return SS_OK;
}

static ss_code ts_done(ss_buf *b, char **out, ss_error *err)
{
    if (b->oom || !b->p) {
        free(b->p);
        return ss_error_set(err, SS_NOMEM, "out of memory");
    }
    *out = b->p;
    return SS_OK;
}

char *ss_sqlserver_migrate_sql(const ss_sqlserver_tsql *t)
{
    ss_buf b = {0};
    const char *s = t->schema, *n = t->table_name, *m = t->meta_name;
    /* Two processes opening together: the application lock serialises the checks. */
    ts_fmt(&b,
           "SET XACT_ABORT ON;\nBEGIN TRAN;\n"
           "EXEC sp_getapplock @Resource = N'statestore-migrate-%s-%s', @LockMode = 'Exclusive', "
           "@LockOwner = 'Transaction';\n",
           s, n);
    ts_fmt(&b,
           "IF NOT EXISTS (SELECT * FROM sys.schemas WHERE name = N'%s') "
           "EXEC('CREATE SCHEMA [%s]');\n",
           s, s);
    ts_fmt(&b,
           "IF NOT EXISTS (SELECT * FROM INFORMATION_SCHEMA.TABLES WHERE TABLE_SCHEMA = N'%s' "
           "AND TABLE_NAME = N'%s')\n",
           s, n);
    ts_fmt(&b,
           "CREATE TABLE %s ([Key] %s CONSTRAINT [PK_%s] PRIMARY KEY, [Data] NVARCHAR(MAX) NOT "
           "NULL, [InsertDate] DATETIME2 NOT NULL DEFAULT(GETDATE()), [UpdateDate] DATETIME2 "
           "NULL, [ExpireDate] DATETIME2 NULL, [RowVersion] ROWVERSION NOT NULL);\n",
           t->table, t->key_type_sql, n);
    /* Tables Dapr created before it had TTLs lack the column. */
    ts_fmt(&b,
           "IF NOT EXISTS (SELECT * FROM INFORMATION_SCHEMA.COLUMNS WHERE TABLE_SCHEMA = N'%s' "
           "AND TABLE_NAME = N'%s' AND COLUMN_NAME = N'ExpireDate')\n"
           "ALTER TABLE %s ADD [ExpireDate] DATETIME2 NULL;\n",
           s, n, t->table);
    ts_fmt(&b,
           "IF NOT EXISTS (SELECT * FROM INFORMATION_SCHEMA.TABLES WHERE TABLE_SCHEMA = N'%s' "
           "AND TABLE_NAME = N'%s')\n"
           "CREATE TABLE %s ([Key] %s CONSTRAINT [PK_%s] PRIMARY KEY, [Value] NVARCHAR(MAX) NOT "
           "NULL);\n",
           s, m, t->meta, t->key_type_sql, m);
    ss_buf_str(&b, "COMMIT TRAN;\n");
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    return b.p;
}

ss_code ss_sqlserver_get_sql(const ss_sqlserver_tsql *t, const ss_op *op, char **out, ss_error *err)
{
    ss_buf b = {0};
    ss_buf_str(&b, "SET NOCOUNT ON;\n");
    ss_code rc = ts_declare_key(&b, t, op, 0, err);
    if (rc != SS_OK) {
        free(b.p);
        return rc;
    }
    ts_fmt(&b, "SELECT [Data], [RowVersion] FROM %s WHERE [Key] = @K0 AND %s;\n", t->table,
           TS_LIVE);
    return ts_done(&b, out, err);
}

ss_code ss_sqlserver_bulk_get_sql(const ss_sqlserver_tsql *t, const ss_op *ops, size_t count,
                                  char **out, ss_error *err)
{
    ss_buf b = {0};
    ss_buf_str(&b, "SET NOCOUNT ON;\n");
    for (size_t i = 0; i < count; i++) {
        ss_code rc = ts_declare_key(&b, t, &ops[i], i, err);
        if (rc != SS_OK) {
            free(b.p);
            return rc;
        }
    }
    /* The request index comes back with each row, so repeated keys each get theirs and the
     * match does not depend on the column's collation. */
    ss_buf_str(&b, "SELECT v.[i], t.[Data], t.[RowVersion] FROM (VALUES ");
    for (size_t i = 0; i < count; i++) ts_fmt(&b, "%s(%zu, @K%zu)", i ? ", " : "", i, i);
    ts_fmt(&b,
           ") AS v([i], [k]) JOIN %s AS t ON t.[Key] = v.[k] WHERE t.[ExpireDate] IS NULL OR "
           "t.[ExpireDate] > GETDATE();\n",
           t->table);
    return ts_done(&b, out, err);
}

static void ts_throw(ss_buf *b, size_t i)
{
    ts_fmt(b, "IF @@ROWCOUNT = 0 THROW %d, N'%s%zu', 1;\n", SS_SQLSERVER_COND_ERROR,
           SS_SQLSERVER_COND_TEXT, i);
}

/* Op i's statements; its values are @K<i>, @D<i>, @T<i>, @E<i>, the new RowVersion into @R<i>. */
static void ts_op(ss_buf *b, const ss_sqlserver_tsql *t, const ss_op *op, size_t i)
{
    char exp[128];
    snprintf(exp, sizeof exp,
             "CASE WHEN @T%zu IS NULL THEN NULL ELSE DATEADD(SECOND, @T%zu, "
             "GETDATE()) END",
             i, i);
    if (op->kind == SS_DRV_DELETE) {
        if (op->cond == SS_COND_MATCH) {
            ts_fmt(b, "DELETE FROM %s WHERE [Key] = @K%zu AND [RowVersion] = @E%zu AND %s;\n",
                   t->table, i, i, TS_LIVE);
            ts_throw(b, i);
        } else {
            ts_fmt(b, "DELETE FROM %s WHERE [Key] = @K%zu;\n", t->table, i);
        }
        return;
    }
    char sets[256];
    snprintf(sets, sizeof sets, "[Data] = @D%zu, [UpdateDate] = GETDATE(), [ExpireDate] = %s", i,
             exp);
    if (op->cond == SS_COND_MATCH) {
        ts_fmt(b, "UPDATE %s SET %s WHERE [Key] = @K%zu AND [RowVersion] = @E%zu AND %s;\n",
               t->table, sets, i, i, TS_LIVE);
        ts_throw(b, i);
    } else if (op->cond == SS_COND_ABSENT) {
        /* An expired row not yet swept does not block a first write. */
        ts_fmt(b,
               "IF EXISTS (SELECT 1 FROM %s WITH (UPDLOCK, HOLDLOCK) WHERE [Key] = @K%zu AND "
               "%s) THROW %d, N'%s%zu', 1;\n",
               t->table, i, TS_LIVE, SS_SQLSERVER_COND_ERROR, SS_SQLSERVER_COND_TEXT, i);
        ts_fmt(b, "DELETE FROM %s WHERE [Key] = @K%zu;\n", t->table, i);
        ts_fmt(b, "INSERT INTO %s ([Key], [Data], [ExpireDate]) VALUES (@K%zu, @D%zu, %s);\n",
               t->table, i, i, exp);
    } else {
        /* The range lock held to the end of the transaction keeps a concurrent upsert of the
         * same new key from inserting between the UPDATE and the INSERT. */
        ts_fmt(b, "UPDATE %s WITH (UPDLOCK, HOLDLOCK) SET %s WHERE [Key] = @K%zu;\n", t->table,
               sets, i);
        ts_fmt(b,
               "IF @@ROWCOUNT = 0 INSERT INTO %s ([Key], [Data], [ExpireDate]) VALUES (@K%zu, "
               "@D%zu, %s);\n",
               t->table, i, i, exp);
    }
    ts_fmt(b, "SELECT @R%zu = [RowVersion] FROM %s WHERE [Key] = @K%zu;\n", i, t->table, i);
}

ss_code ss_sqlserver_check_op(const ss_sqlserver_tsql *t, const ss_op *op, ss_error *err)
{
    if (!ss_utf8_valid(op->key, op->key_len, false))
        return ss_error_set(err, SS_INVALID, "key is not UTF-8 text (the key column is %s)",
                            t->key_type_sql);
    if (op->cond == SS_COND_MATCH && !ss_sqlserver_etag_ok(op->etag))
        return ss_error_set(err, SS_ETAG_INVALID, "etag is not a RowVersion (16 hex digits)");
    if (op->kind != SS_DRV_SET) return SS_OK;
    if (!ss_utf8_valid(op->value, op->value_len, false))
        return ss_error_set(err, SS_INVALID,
                            "value is not UTF-8 text without NUL ([Data] is NVARCHAR(MAX), as "
                            "Dapr's table)");
    if (op->ttl_mode == SS_TTL_SECONDS && op->ttl_seconds > INT32_MAX)
        return ss_error_set(err, SS_INVALID, "ttlInSeconds above %d", INT32_MAX);
    return SS_OK;
}

static ss_code ts_declare_op(ss_buf *b, const ss_sqlserver_tsql *t, const ss_op *op, size_t i,
                             ss_error *err)
{
    ss_code rc = ss_sqlserver_check_op(t, op, err);
    if (rc != SS_OK) return rc;
    rc = ts_declare_key(b, t, op, i, err);
    if (rc != SS_OK) return rc;
    if (op->cond == SS_COND_MATCH) ts_fmt(b, "DECLARE @E%zu BINARY(8) = 0x%s;\n", i, op->etag);
    if (op->kind != SS_DRV_SET) return SS_OK;
    ts_fmt(b, "DECLARE @D%zu NVARCHAR(MAX) = ", i);
    ts_literal(b, op->value, op->value_len);
    ss_buf_str(b, ";\n");
    if (op->ttl_mode == SS_TTL_SECONDS)
        ts_fmt(b, "DECLARE @T%zu INT = %" PRId64 ";\n", i, op->ttl_seconds);
    else
        ts_fmt(b, "DECLARE @T%zu INT = NULL;\n", i);
    ts_fmt(b, "DECLARE @R%zu BINARY(8);\n", i);
    return SS_OK;
}

ss_code ss_sqlserver_write_sql(const ss_sqlserver_tsql *t, ss_sqlserver_batch_kind kind,
                               const ss_op *ops, size_t count, char **out, ss_error *err)
{
    ss_buf b = {0};
    ss_buf_str(&b, "SET NOCOUNT ON;\nSET XACT_ABORT ON;\n");
    for (size_t i = 0; i < count; i++) {
        ss_code rc = ts_declare_op(&b, t, &ops[i], i, err);
        if (rc != SS_OK) {
            free(b.p);
            return rc;
        }
        if (kind == SS_SQLSERVER_BULK)
            ts_fmt(&b, "DECLARE @S%zu INT = 0, @M%zu NVARCHAR(4000);\n", i, i);
    }
    if (kind == SS_SQLSERVER_BULK) {
        for (size_t i = 0; i < count; i++) {
            ss_buf_str(&b, "BEGIN TRY\nBEGIN TRAN;\n");
            ts_op(&b, t, &ops[i], i);
            ts_fmt(&b,
                   "COMMIT TRAN;\nEND TRY\nBEGIN CATCH\nIF @@TRANCOUNT > 0 ROLLBACK TRAN;\n"
                   "SELECT @S%zu = ERROR_NUMBER(), @M%zu = ERROR_MESSAGE();\nEND CATCH;\n",
                   i, i);
        }
        for (size_t i = 0; i < count; i++) {
            if (ops[i].kind == SS_DRV_SET)
                ts_fmt(&b, "%sSELECT %zu, @S%zu, @M%zu, @R%zu", i ? "\nUNION ALL " : "", i, i, i,
                       i);
            else
                ts_fmt(&b, "%sSELECT %zu, @S%zu, @M%zu, CAST(NULL AS BINARY(8))",
                       i ? "\nUNION ALL " : "", i, i, i);
        }
        ss_buf_str(&b, ";\n");
        return ts_done(&b, out, err);
    }
    ss_buf_str(&b, "BEGIN TRAN;\n");
    for (size_t i = 0; i < count; i++) ts_op(&b, t, &ops[i], i);
    ss_buf_str(&b, "COMMIT TRAN;\n");
    if (kind == SS_SQLSERVER_WRITE && ops[0].kind == SS_DRV_SET) ss_buf_str(&b, "SELECT @R0;\n");
    return ts_done(&b, out, err);
}

char *ss_sqlserver_sweep_sql(const ss_sqlserver_tsql *t, int64_t interval_ms)
{
    ss_buf b = {0};
    ss_buf_str(&b, "SET NOCOUNT ON;\nSET XACT_ABORT ON;\nDECLARE @n BIGINT = -1;\nBEGIN TRAN;\n");
    ts_fmt(&b,
           "UPDATE %s WITH (UPDLOCK, HOLDLOCK) SET [Value] = CONVERT(NVARCHAR(MAX), GETDATE(), "
           "21) WHERE [Key] = N'last-cleanup' AND DATEDIFF_BIG(MS, [Value], GETDATE()) > %" PRId64
           ";\n",
           t->meta, interval_ms);
    ts_fmt(&b,
           "IF @@ROWCOUNT > 0 BEGIN SET @n = 0; END\nELSE IF NOT EXISTS (SELECT 1 FROM %s WITH "
           "(UPDLOCK, HOLDLOCK) WHERE [Key] = N'last-cleanup') BEGIN INSERT INTO %s ([Key], "
           "[Value]) VALUES (N'last-cleanup', CONVERT(NVARCHAR(MAX), GETDATE(), 21)); SET @n = "
           "0; END;\n",
           t->meta, t->meta);
    ts_fmt(&b,
           "IF @n = 0 BEGIN DELETE FROM %s WHERE [ExpireDate] IS NOT NULL AND [ExpireDate] < "
           "GETDATE(); SET @n = @@ROWCOUNT; END;\n",
           t->table);
    ss_buf_str(&b, "COMMIT TRAN;\nSELECT @n;\n");
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    return b.p;
}

bool ss_sqlserver_etag_ok(const char *etag)
{
    if (strlen(etag) != SS_SQLSERVER_ETAG_LEN) return false;
    for (size_t i = 0; i < SS_SQLSERVER_ETAG_LEN; i++)
        if (!isxdigit((unsigned char)etag[i])) return false;
    return true;
}

void ss_sqlserver_etag_text(const unsigned char rv[8], char out[SS_SQLSERVER_ETAG_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 8; i++) {
        out[2 * i] = hex[rv[i] >> 4];
        out[2 * i + 1] = hex[rv[i] & 15];
    }
    out[SS_SQLSERVER_ETAG_LEN] = '\0';
}

ss_code ss_sqlserver_error_code(long number)
{
    switch (number) {
    case SS_SQLSERVER_COND_ERROR:
    case 2601: /* duplicate key in a unique index */
    case 2627: /* primary key violation */
        return SS_ETAG_MISMATCH;
    case 241:  /* date/time conversion */
    case 245:  /* conversion to int */
    case 8114: /* conversion of a value to the column's type */
    case 8115: /* arithmetic overflow */
    case 8152: /* string or binary data would be truncated (key longer than keyLength) */
    case 2628: /* the same, newer servers */
    case 8169: /* conversion to uniqueidentifier */
        return SS_INVALID;
    case 1222: /* lock request timeout */
        return SS_TIMEOUT;
    default:
        return ss_sqlserver_transient(number) ? SS_UNAVAILABLE : SS_BACKEND;
    }
}

bool ss_sqlserver_cond_index(const char *message, size_t *idx)
{
    const char *p = strstr(message, SS_SQLSERVER_COND_TEXT);
    if (!p) return false;
    p += strlen(SS_SQLSERVER_COND_TEXT);
    if (!isdigit((unsigned char)*p)) return false;
    char *end;
    unsigned long long v = strtoull(p, &end, 10);
    *idx = (size_t)v;
    return true;
}
