/*
 * mysql_dsn.h — the MySQL driver's connectionString: a DSN as Go's mysql driver (and so Dapr)
 * takes it, [user[:password]@][net[(addr)]]/dbname[?param=value&...].
 */
#ifndef SS_STORES_SQL_MYSQL_DSN_H
#define SS_STORES_SQL_MYSQL_DSN_H

#include <stdint.h>

#include "statestore/driver.h"

typedef struct ss_mysql_dsn {
    char *user;
    char *pass;
    char *host;
    char *socket;
    unsigned port;
    char *dbname;
    int tls; /* 0 off, 1 on + verify, 2 on without verify, 3 preferred */
    int64_t connect_timeout_ms, read_timeout_ms, write_timeout_ms;
} ss_mysql_dsn;

/*
 * Parses s into *d (zeroed first; the caller frees it with ss_mysql_dsn_free). Without an
 * address the host is 127.0.0.1, the port 3306. Errors are INVALID, and their messages never
 * quote the DSN (it may carry the password).
 */
ss_code ss_mysql_dsn_parse(const char *s, ss_mysql_dsn *d, ss_error *err);

/* Frees what d holds and zeroes it. */
void ss_mysql_dsn_free(ss_mysql_dsn *d);

#endif
