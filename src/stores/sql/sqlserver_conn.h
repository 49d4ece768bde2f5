/*
 * sqlserver_conn.h — the SQL Server driver's connectionString in ADO form, as Dapr's component
 * (go-mssqldb) accepts it: `key=value` pairs separated by `;`, keys case-insensitive with their
 * usual synonyms, values optionally quoted; and which SQL Server error numbers are transient.
 */
#ifndef SS_STORES_SQL_SQLSERVER_CONN_H
#define SS_STORES_SQL_SQLSERVER_CONN_H

#include <stdbool.h>
#include <stdint.h>

#include "statestore/driver.h"

typedef struct ss_sqlserver_conn {
    char *host;     /* "server" without ",port" / "\instance"; default "localhost" */
    char *instance; /* "server=host\instance"; NULL when none */
    unsigned port;  /* "server=host,port" or "port"; 0 = the default (1433, or the instance's) */
    char *user;
    char *password;
    char *database;
    char *app_name;
    int64_t connect_timeout_ms; /* "connection timeout" / "dial timeout" (seconds); 0 = unset */
    int encrypt;                /* -1 unset, 0 false/disable, 1 true/strict */
    bool trust_server_certificate;
} ss_sqlserver_conn;

/*
 * Parses s into *c (zeroed first; free with ss_sqlserver_conn_free). Unknown keys are INVALID,
 * named in the message; a value is never quoted in a message (the string carries the password).
 */
ss_code ss_sqlserver_conn_parse(const char *s, ss_sqlserver_conn *c, ss_error *err);

void ss_sqlserver_conn_free(ss_sqlserver_conn *c);

/*
 * Whether SQL Server error `number` is transient, so the same statement may succeed when run
 * again: deadlock victim (1205), lock timeout (1222), and Azure SQL's documented transient
 * faults (4060, 40197, 40501, 40613, 49918, 49919, 49920, 4221, 10928, 10929).
 */
bool ss_sqlserver_transient(long number);

#endif
