/*
 * The SQL Server driver without a server: every T-SQL batch it sends (sqlserver_tsql.c), each
 * statement compared whole with the text written here from Dapr's table layout and T-SQL's
 * rules, and each value carried in the batch read back out of its literal and compared byte for
 * byte with the request's. The literal reader is checked too: batches deliberately broken the
 * ways a builder could break them (an unescaped quote, a wrong ETag, a wrong index, a missing
 * condition) must be caught.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store_check.h"
#include "stores/sql/sqlserver_tsql.h"

#define TBL    "[dbo].[state]"
#define LIVE   "([ExpireDate] IS NULL OR [ExpireDate] > GETDATE())"
#define EXP(i) "CASE WHEN @T" #i " IS NULL THEN NULL ELSE DATEADD(SECOND, @T" #i ", GETDATE()) END"

static ss_sqlserver_tsql T;

static ss_op set_op(const char *key, const char *val, ss_cond cond, const char *etag)
{
    return (ss_op){.kind = SS_DRV_SET,
                   .key = key,
                   .key_len = strlen(key),
                   .value = val,
                   .value_len = strlen(val),
                   .cond = cond,
                   .etag = etag,
                   .ttl_mode = SS_TTL_DEFAULT};
}

static ss_op del_op(const char *key, ss_cond cond, const char *etag)
{
    return (ss_op){
        .kind = SS_DRV_DELETE, .key = key, .key_len = strlen(key), .cond = cond, .etag = etag};
}

/*
 * Reads `DECLARE @<name> <type> = <literal>;` out of batch: the type into type, the literal's
 * value into val (N'..' unescaped; anything else verbatim). False when the declaration is
 * missing, appears twice, or its literal is not followed by ";\n" (a quote left unescaped ends
 * it early).
 */
static bool decl(const char *batch, const char *name, char *type, size_t tcap, char *val,
                 size_t vcap)
{
    char head[32];
    snprintf(head, sizeof head, "DECLARE @%s ", name);
    const char *p = strstr(batch, head);
    if (!p || strstr(p + 1, head)) return false;
    p += strlen(head);
    const char *eq = strstr(p, " = ");
    if (!eq || (size_t)(eq - p) >= tcap) return false;
    memcpy(type, p, (size_t)(eq - p));
    type[eq - p] = '\0';
    p = eq + 3;
    size_t n = 0;
    if (p[0] == 'N' && p[1] == '\'') {
        for (p += 2;; p++) {
            if (!*p) return false;
            if (*p == '\'') {
                if (p[1] != '\'') break;
                p++;
            }
            if (n + 1 >= vcap) return false;
            val[n++] = *p;
        }
        p++;
    } else {
        while (*p && *p != ';') {
            if (n + 1 >= vcap) return false;
            val[n++] = *p++;
        }
    }
    val[n] = '\0';
    return p[0] == ';' && p[1] == '\n';
}

/* Whether batch declares @name as type holding exactly want. */
static bool carries(const char *batch, const char *name, const char *type, const char *want)
{
    char t[64], v[4096];
    if (!decl(batch, name, t, sizeof t, v, sizeof v)) return false;
    return !strcmp(t, type) && !strcmp(v, want);
}

static char *build(ss_sqlserver_batch_kind kind, const ss_op *ops, size_t n)
{
    char *sql = NULL;
    ss_error err = {0};
    ss_code rc = ss_sqlserver_write_sql(&T, kind, ops, n, &sql, &err);
    CHECK(rc == SS_OK, "build: %s", err.message);
    return sql;
}

#define SAME(got, want)                                                                            \
    CHECK((got) && !strcmp((got), (want)), "\n--- got:\n%s\n--- want:\n%s",                        \
          (got) ? (got) : "(null)", (want))

static void names(void)
{
    ss_error err = {0};
    ss_sqlserver_tsql t;
    const char *bad[][3] = {
        {"dbo", "st]ate", "m"}, {"", "state", "m"}, {"dbo", "state", "a b"}, {"d;o", "state", "m"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ss_code rc =
            ss_sqlserver_tsql_init(&t, bad[i][0], bad[i][1], bad[i][2], "string", 200, &err);
        CHECK(rc == SS_INVALID, "accepted %s.%s/%s", bad[i][0], bad[i][1], bad[i][2]);
        if (rc == SS_OK) ss_sqlserver_tsql_free(&t);
    }
    CHECK(ss_sqlserver_tsql_init(&t, "dbo", "state", "m", "text", 200, &err) == SS_INVALID &&
              strstr(err.message, "keyType"),
          "keyType text: %s", err.message);
    CHECK(ss_sqlserver_tsql_init(&t, "dbo", "state", "m", "string", 0, &err) == SS_INVALID &&
              strstr(err.message, "keyLength"),
          "keyLength 0: %s", err.message);
    const char *types[][2] = {
        {"uuid", "UNIQUEIDENTIFIER"}, {"integer", "INT"}, {"string", "NVARCHAR(77)"}};
    for (size_t i = 0; i < 3; i++) {
        ss_code rc = ss_sqlserver_tsql_init(&t, "s1", "t1", "m1", types[i][0], 77, &err);
        CHECK(rc == SS_OK && !strcmp(t.key_type_sql, types[i][1]) &&
                  !strcmp(t.table, "[s1].[t1]") && !strcmp(t.meta, "[s1].[m1]"),
              "keyType %s", types[i][0]);
        if (rc == SS_OK) ss_sqlserver_tsql_free(&t);
    }
}

static void migrate(void)
{
    char *sql = ss_sqlserver_migrate_sql(&T);
    SAME(sql,
         "SET XACT_ABORT ON;\nBEGIN TRAN;\n"
         "EXEC sp_getapplock @Resource = N'statestore-migrate-dbo-state', @LockMode = "
         "'Exclusive', @LockOwner = 'Transaction';\n"
         "IF NOT EXISTS (SELECT * FROM sys.schemas WHERE name = N'dbo') EXEC('CREATE SCHEMA "
         "[dbo]');\n"
         "IF NOT EXISTS (SELECT * FROM INFORMATION_SCHEMA.TABLES WHERE TABLE_SCHEMA = N'dbo' AND "
         "TABLE_NAME = N'state')\n"
         "CREATE TABLE " TBL " ([Key] NVARCHAR(200) CONSTRAINT [PK_state] PRIMARY KEY, [Data] "
         "NVARCHAR(MAX) NOT NULL, [InsertDate] DATETIME2 NOT NULL DEFAULT(GETDATE()), "
         "[UpdateDate] DATETIME2 NULL, [ExpireDate] DATETIME2 NULL, [RowVersion] ROWVERSION NOT "
         "NULL);\n"
         "IF NOT EXISTS (SELECT * FROM INFORMATION_SCHEMA.COLUMNS WHERE TABLE_SCHEMA = N'dbo' AND "
         "TABLE_NAME = N'state' AND COLUMN_NAME = N'ExpireDate')\n"
         "ALTER TABLE " TBL " ADD [ExpireDate] DATETIME2 NULL;\n"
         "IF NOT EXISTS (SELECT * FROM INFORMATION_SCHEMA.TABLES WHERE TABLE_SCHEMA = N'dbo' AND "
         "TABLE_NAME = N'dapr_metadata')\n"
         "CREATE TABLE [dbo].[dapr_metadata] ([Key] NVARCHAR(200) CONSTRAINT [PK_dapr_metadata] "
         "PRIMARY KEY, [Value] NVARCHAR(MAX) NOT NULL);\n"
         "COMMIT TRAN;\n");
    free(sql);
}

static void reads(void)
{
    ss_op op = del_op("app||it's", SS_COND_ANY, NULL);
    char *sql = NULL;
    ss_error err = {0};
    CHECK(ss_sqlserver_get_sql(&T, &op, &sql, &err) == SS_OK, "%s", err.message);
    SAME(sql, "SET NOCOUNT ON;\nDECLARE @K0 NVARCHAR(200) = N'app||it''s';\n"
              "SELECT [Data], [RowVersion] FROM " TBL " WHERE [Key] = @K0 AND " LIVE ";\n");
    CHECK(sql && carries(sql, "K0", "NVARCHAR(200)", "app||it's"), "key not carried");
    free(sql);

    ss_op ops[] = {del_op("a", SS_COND_ANY, NULL), del_op("b'", SS_COND_ANY, NULL),
                   del_op("a", SS_COND_ANY, NULL)};
    sql = NULL;
    CHECK(ss_sqlserver_bulk_get_sql(&T, ops, 3, &sql, &err) == SS_OK, "%s", err.message);
    SAME(sql, "SET NOCOUNT ON;\nDECLARE @K0 NVARCHAR(200) = N'a';\n"
              "DECLARE @K1 NVARCHAR(200) = N'b''';\nDECLARE @K2 NVARCHAR(200) = N'a';\n"
              "SELECT v.[i], t.[Data], t.[RowVersion] FROM (VALUES (0, @K0), (1, @K1), (2, @K2)) "
              "AS v([i], [k]) JOIN " TBL " AS t ON t.[Key] = v.[k] WHERE t.[ExpireDate] IS NULL "
              "OR t.[ExpireDate] > GETDATE();\n");
    CHECK(sql && carries(sql, "K1", "NVARCHAR(200)", "b'"), "key 1 not carried");
    free(sql);

    ss_op bad = del_op("\xff\xfe", SS_COND_ANY, NULL);
    bad.key_len = 2;
    sql = NULL;
    CHECK(ss_sqlserver_get_sql(&T, &bad, &sql, &err) == SS_INVALID && !sql,
          "non-UTF-8 key accepted");
}

static const char *const SET_ANY_TEXT =
    "UPDATE " TBL " WITH (UPDLOCK, HOLDLOCK) SET [Data] = @D0, [UpdateDate] = GETDATE(), "
    "[ExpireDate] = " EXP(0) " WHERE [Key] = @K0;\n"
                             "IF @@ROWCOUNT = 0 INSERT INTO " TBL
                             " ([Key], [Data], [ExpireDate]) VALUES (@K0, @D0, " EXP(
                                 0) ");\n"
                                    "SELECT @R0 = [RowVersion] FROM " TBL " WHERE [Key] = @K0;\n";

static void writes(void)
{
    /* Unconditional set, with a TTL and a value that tries to end its literal. */
    ss_op op = set_op("k", "{\"a\":\"x'); DROP TABLE state; --\"}", SS_COND_ANY, NULL);
    op.ttl_mode = SS_TTL_SECONDS;
    op.ttl_seconds = 60;
    char *sql = build(SS_SQLSERVER_WRITE, &op, 1);
    char want[8192];
    snprintf(want, sizeof want,
             "SET NOCOUNT ON;\nSET XACT_ABORT ON;\nDECLARE @K0 NVARCHAR(200) = N'k';\n"
             "DECLARE @D0 NVARCHAR(MAX) = N'{\"a\":\"x''); DROP TABLE state; --\"}';\n"
             "DECLARE @T0 INT = 60;\nDECLARE @R0 BINARY(8);\nBEGIN TRAN;\n%sCOMMIT TRAN;\n"
             "SELECT @R0;\n",
             SET_ANY_TEXT);
    SAME(sql, want);
    CHECK(sql && carries(sql, "D0", "NVARCHAR(MAX)", op.value), "value not carried");
    CHECK(sql && carries(sql, "T0", "INT", "60"), "ttl not carried");
    free(sql);

    /* No TTL: NULL, so ExpireDate is cleared. */
    op.ttl_mode = SS_TTL_NONE;
    sql = build(SS_SQLSERVER_WRITE, &op, 1);
    CHECK(sql && carries(sql, "T0", "INT", "NULL"), "ttl none not NULL");
    free(sql);

    /* ETag match: the RowVersion as a binary literal, the live row only, THROW when none. */
    op = set_op("k", "v", SS_COND_MATCH, "00000000000007d1");
    sql = build(SS_SQLSERVER_WRITE, &op, 1);
    SAME(sql,
         "SET NOCOUNT ON;\nSET XACT_ABORT ON;\nDECLARE @K0 NVARCHAR(200) = N'k';\n"
         "DECLARE @E0 BINARY(8) = 0x00000000000007d1;\n"
         "DECLARE @D0 NVARCHAR(MAX) = N'v';\nDECLARE @T0 INT = NULL;\n"
         "DECLARE @R0 BINARY(8);\nBEGIN TRAN;\n"
         "UPDATE " TBL " SET [Data] = @D0, [UpdateDate] = GETDATE(), [ExpireDate] = " EXP(
             0) " WHERE [Key] = @K0 AND [RowVersion] = @E0 AND " LIVE ";\n"
                "IF @@ROWCOUNT = 0 THROW 50100, N'statestore: condition not met: operation 0', 1;\n"
                "SELECT @R0 = [RowVersion] FROM " TBL " WHERE [Key] = @K0;\n"
                "COMMIT TRAN;\nSELECT @R0;\n");
    CHECK(sql && carries(sql, "E0", "BINARY(8)", "0x00000000000007d1"), "etag not carried");
    free(sql);

    /* First write: only a live row blocks it; an expired one is replaced. */
    op = set_op("k", "v", SS_COND_ABSENT, NULL);
    sql = build(SS_SQLSERVER_WRITE, &op, 1);
    SAME(sql,
         "SET NOCOUNT ON;\nSET XACT_ABORT ON;\nDECLARE @K0 NVARCHAR(200) = N'k';\n"
         "DECLARE @D0 NVARCHAR(MAX) = N'v';\nDECLARE @T0 INT = NULL;\n"
         "DECLARE @R0 BINARY(8);\nBEGIN TRAN;\n"
         "IF EXISTS (SELECT 1 FROM " TBL " WITH (UPDLOCK, HOLDLOCK) WHERE [Key] = @K0 AND " LIVE
         ") THROW 50100, N'statestore: condition not met: operation 0', 1;\n"
         "DELETE FROM " TBL " WHERE [Key] = @K0;\n"
         "INSERT INTO " TBL " ([Key], [Data], [ExpireDate]) VALUES (@K0, @D0, " EXP(
             0) ");\n"
                "SELECT @R0 = [RowVersion] FROM " TBL " WHERE [Key] = @K0;\n"
                "COMMIT TRAN;\nSELECT @R0;\n");
    free(sql);

    ss_op d = del_op("k", SS_COND_ANY, NULL);
    sql = build(SS_SQLSERVER_WRITE, &d, 1);
    SAME(sql, "SET NOCOUNT ON;\nSET XACT_ABORT ON;\nDECLARE @K0 NVARCHAR(200) = N'k';\n"
              "BEGIN TRAN;\nDELETE FROM " TBL " WHERE [Key] = @K0;\nCOMMIT TRAN;\n");
    free(sql);
    d = del_op("k", SS_COND_MATCH, "ffffffffffffffff");
    sql = build(SS_SQLSERVER_WRITE, &d, 1);
    SAME(sql, "SET NOCOUNT ON;\nSET XACT_ABORT ON;\nDECLARE @K0 NVARCHAR(200) = N'k';\n"
              "DECLARE @E0 BINARY(8) = 0xffffffffffffffff;\nBEGIN TRAN;\n"
              "DELETE FROM " TBL " WHERE [Key] = @K0 AND [RowVersion] = @E0 AND " LIVE ";\n"
              "IF @@ROWCOUNT = 0 THROW 50100, N'statestore: condition not met: operation 0', 1;\n"
              "COMMIT TRAN;\n");
    free(sql);
}

static void refused(void)
{
    ss_error err = {0};
    char *sql = NULL;
    ss_op op = set_op("k", "v", SS_COND_MATCH, "not-a-rowversion");
    CHECK(ss_sqlserver_write_sql(&T, SS_SQLSERVER_WRITE, &op, 1, &sql, &err) == SS_ETAG_INVALID,
          "bad etag accepted");
    op = set_op("k", "a\0b", SS_COND_ANY, NULL);
    op.value_len = 3;
    CHECK(ss_sqlserver_write_sql(&T, SS_SQLSERVER_WRITE, &op, 1, &sql, &err) == SS_INVALID &&
              strstr(err.message, "value"),
          "NUL in value accepted: %s", err.message);
    CHECK(ss_sqlserver_check_op(&T, &op, &err) == SS_INVALID, "check_op accepts a NUL");
    op = set_op("k", "\xc3\x28", SS_COND_ANY, NULL);
    CHECK(ss_sqlserver_write_sql(&T, SS_SQLSERVER_WRITE, &op, 1, &sql, &err) == SS_INVALID,
          "invalid UTF-8 value accepted");
    op = set_op("k", "v", SS_COND_ANY, NULL);
    op.ttl_mode = SS_TTL_SECONDS;
    op.ttl_seconds = (int64_t)INT32_MAX + 1;
    CHECK(ss_sqlserver_write_sql(&T, SS_SQLSERVER_WRITE, &op, 1, &sql, &err) == SS_INVALID,
          "TTL above INT accepted");
    CHECK(sql == NULL, "a refused request built a batch");
}

static void transaction(void)
{
    ss_op ops[] = {set_op("a", "1", SS_COND_ANY, NULL),
                   del_op("b", SS_COND_MATCH, "0000000000000001"),
                   set_op("c", "3", SS_COND_MATCH, "0000000000000002")};
    char *sql = build(SS_SQLSERVER_TX, ops, 3);
    if (!sql) return;
    /* One transaction, aborted whole by any error; no result rows. */
    CHECK(!strncmp(sql, "SET NOCOUNT ON;\nSET XACT_ABORT ON;\n", 35), "no XACT_ABORT");
    const char *begin = strstr(sql, "BEGIN TRAN;\n");
    CHECK(begin && !strstr(begin + 1, "BEGIN TRAN"), "not exactly one BEGIN TRAN");
    CHECK(!strstr(sql, "SELECT @R0;") && !strstr(sql, "SELECT @R2;"), "a transaction returns rows");
    size_t n = strlen(sql);
    CHECK(n > 13 && !strcmp(sql + n - 13, "COMMIT TRAN;\n"), "does not end by committing");
    /* In request order, each condition checked right after its statement. */
    const char *p0 = strstr(sql, "UPDATE " TBL " WITH (UPDLOCK, HOLDLOCK) SET [Data] = @D0");
    const char *p1 = strstr(sql, "DELETE FROM " TBL " WHERE [Key] = @K1 AND [RowVersion] = @E1 "
                                 "AND " LIVE ";\nIF @@ROWCOUNT = 0 THROW 50100, N'statestore: "
                                 "condition not met: operation 1', 1;\n");
    const char *p2 = strstr(sql, "WHERE [Key] = @K2 AND [RowVersion] = @E2 AND " LIVE ";\n"
                                 "IF @@ROWCOUNT = 0 THROW 50100, N'statestore: condition not met: "
                                 "operation 2', 1;\n");
    CHECK(begin && p0 && p1 && p2 && begin < p0 && p0 < p1 && p1 < p2, "order: %s", sql);
    CHECK(carries(sql, "K0", "NVARCHAR(200)", "a") && carries(sql, "K1", "NVARCHAR(200)", "b") &&
              carries(sql, "K2", "NVARCHAR(200)", "c") &&
              carries(sql, "D0", "NVARCHAR(MAX)", "1") &&
              carries(sql, "D2", "NVARCHAR(MAX)", "3") &&
              carries(sql, "E1", "BINARY(8)", "0x0000000000000001") &&
              carries(sql, "E2", "BINARY(8)", "0x0000000000000002"),
          "values: %s", sql);
    free(sql);
}

static void bulk(void)
{
    ss_op ops[] = {set_op("a", "1", SS_COND_ANY, NULL), del_op("b", SS_COND_ANY, NULL)};
    char *sql = build(SS_SQLSERVER_BULK, ops, 2);
    char want[8192];
    snprintf(want, sizeof want,
             "SET NOCOUNT ON;\nSET XACT_ABORT ON;\nDECLARE @K0 NVARCHAR(200) = N'a';\n"
             "DECLARE @D0 NVARCHAR(MAX) = N'1';\nDECLARE @T0 INT = NULL;\n"
             "DECLARE @R0 BINARY(8);\nDECLARE @S0 INT = 0, @M0 NVARCHAR(4000);\n"
             "DECLARE @K1 NVARCHAR(200) = N'b';\nDECLARE @S1 INT = 0, @M1 NVARCHAR(4000);\n"
             "BEGIN TRY\nBEGIN TRAN;\n%sCOMMIT TRAN;\nEND TRY\nBEGIN CATCH\n"
             "IF @@TRANCOUNT > 0 ROLLBACK TRAN;\n"
             "SELECT @S0 = ERROR_NUMBER(), @M0 = ERROR_MESSAGE();\nEND CATCH;\n"
             "BEGIN TRY\nBEGIN TRAN;\nDELETE FROM " TBL " WHERE [Key] = @K1;\nCOMMIT TRAN;\n"
             "END TRY\nBEGIN CATCH\nIF @@TRANCOUNT > 0 ROLLBACK TRAN;\n"
             "SELECT @S1 = ERROR_NUMBER(), @M1 = ERROR_MESSAGE();\nEND CATCH;\n"
             "SELECT 0, @S0, @M0, @R0\nUNION ALL SELECT 1, @S1, @M1, CAST(NULL AS BINARY(8));\n",
             SET_ANY_TEXT);
    SAME(sql, want);
    free(sql);
}

static void sweep(void)
{
    char *sql = ss_sqlserver_sweep_sql(&T, 3600000);
    SAME(sql, "SET NOCOUNT ON;\nSET XACT_ABORT ON;\nDECLARE @n BIGINT = -1;\nBEGIN TRAN;\n"
              "UPDATE [dbo].[dapr_metadata] WITH (UPDLOCK, HOLDLOCK) SET [Value] = "
              "CONVERT(NVARCHAR(MAX), GETDATE(), 21) WHERE [Key] = N'last-cleanup' AND "
              "DATEDIFF_BIG(MS, [Value], GETDATE()) > 3600000;\n"
              "IF @@ROWCOUNT > 0 BEGIN SET @n = 0; END\nELSE IF NOT EXISTS (SELECT 1 FROM "
              "[dbo].[dapr_metadata] WITH (UPDLOCK, HOLDLOCK) WHERE [Key] = N'last-cleanup') "
              "BEGIN INSERT INTO [dbo].[dapr_metadata] ([Key], [Value]) VALUES (N'last-cleanup', "
              "CONVERT(NVARCHAR(MAX), GETDATE(), 21)); SET @n = 0; END;\n"
              "IF @n = 0 BEGIN DELETE FROM " TBL " WHERE [ExpireDate] IS NOT NULL AND "
              "[ExpireDate] < GETDATE(); SET @n = @@ROWCOUNT; END;\n"
              "COMMIT TRAN;\nSELECT @n;\n");
    free(sql);
}

static void etags_and_errors(void)
{
    const unsigned char rv[8] = {0, 0, 0, 0, 0, 0, 0x07, 0xd1};
    char text[SS_SQLSERVER_ETAG_LEN + 1];
    ss_sqlserver_etag_text(rv, text);
    CHECK(!strcmp(text, "00000000000007d1"), "etag text %s", text);
    CHECK(ss_sqlserver_etag_ok("00000000000007D1") && ss_sqlserver_etag_ok(text),
          "hex etag refused");
    CHECK(!ss_sqlserver_etag_ok("0000000000007d1") && !ss_sqlserver_etag_ok("00000000000007d1a") &&
              !ss_sqlserver_etag_ok("0x000000000007d1") &&
              !ss_sqlserver_etag_ok("c1e2a5b0-0000-4000-8000-000000000000"),
          "non-RowVersion etag accepted");

    const struct {
        long number;
        ss_code code;
    } map[] = {{50100, SS_ETAG_MISMATCH}, {2627, SS_ETAG_MISMATCH}, {2601, SS_ETAG_MISMATCH},
               {245, SS_INVALID},         {8169, SS_INVALID},       {8152, SS_INVALID},
               {1205, SS_UNAVAILABLE},    {40613, SS_UNAVAILABLE},  {1222, SS_TIMEOUT},
               {208, SS_BACKEND},         {18456, SS_BACKEND}};
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        CHECK(ss_sqlserver_error_code(map[i].number) == map[i].code, "error %ld -> %s",
              map[i].number, ss_code_name(ss_sqlserver_error_code(map[i].number)));
    size_t idx = 99;
    CHECK(ss_sqlserver_cond_index("statestore: condition not met: operation 12", &idx) && idx == 12,
          "index %zu", idx);
    CHECK(!ss_sqlserver_cond_index("Violation of PRIMARY KEY constraint", &idx) &&
              !ss_sqlserver_cond_index("statestore: condition not met: operation x", &idx),
          "index from an unrelated message");
}

/* The checks above catch batches broken the ways a builder could break them. */
static void wrong_requests_caught(void)
{
    ss_op op = set_op("it's", "v'1", SS_COND_MATCH, "00000000000007d1");
    char *sql = build(SS_SQLSERVER_TX, &op, 1);
    if (!sql) return;
    CHECK(carries(sql, "K0", "NVARCHAR(200)", "it's"), "the good batch fails its own check");
    /* A quote not doubled: the literal ends early. */
    char *bad = ss_strdup(sql);
    char *q = strstr(bad, "it''s");
    memmove(q + 3, q + 4, strlen(q + 4) + 1);
    CHECK(!carries(bad, "K0", "NVARCHAR(200)", "it's"), "unescaped quote not caught: %s", bad);
    free(bad);
    /* Another ETag than the request's. */
    bad = ss_strdup(sql);
    q = strstr(bad, "0x00000000000007d1");
    q[17] = '2';
    CHECK(!carries(bad, "E0", "BINARY(8)", "0x00000000000007d1"), "wrong etag not caught");
    free(bad);
    /* The value under the wrong type (would be cut to NVARCHAR(200)). */
    bad = ss_strdup(sql);
    q = strstr(bad, "@D0 NVARCHAR(MAX)");
    memcpy(q + 4, "NVARCHAR(200)", 13);
    CHECK(!carries(bad, "D0", "NVARCHAR(MAX)", "v'1"), "wrong type not caught");
    free(bad);
    /* A condition that is never checked. */
    bad = ss_strdup(sql);
    q = strstr(bad, "IF @@ROWCOUNT = 0 THROW");
    memcpy(q, "--", 2);
    CHECK(!strstr(bad, "IF @@ROWCOUNT = 0 THROW 50100, N'statestore: condition not met: "
                       "operation 0', 1;\n"),
          "a missing condition is not caught");
    free(bad);
    /* And the whole-text comparison sees a one-character change. */
    ss_op any = set_op("k", "v", SS_COND_ANY, NULL);
    char *good = build(SS_SQLSERVER_WRITE, &any, 1);
    if (good) {
        char *w = strstr(good, "HOLDLOCK");
        w[0] = 'h';
        CHECK(!strstr(good, SET_ANY_TEXT), "changed text still matches");
        free(good);
    }
    free(sql);
}

int main(void)
{
    ss_error err = {0};
    if (ss_sqlserver_tsql_init(&T, "dbo", "state", "dapr_metadata", "string", 200, &err) != SS_OK) {
        fprintf(stderr, "init: %s\n", err.message);
        return 1;
    }
    names();
    migrate();
    reads();
    writes();
    refused();
    transaction();
    bulk();
    sweep();
    etags_and_errors();
    wrong_requests_caught();
    ss_sqlserver_tsql_free(&T);
    return check_summary("sqlserver_tsql_test");
}
