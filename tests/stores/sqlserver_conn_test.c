/*
 * The SQL Server driver's ADO connection-string parser and transient-error classification,
 * without a server. The strings are the forms Dapr's state.sqlserver documentation and
 * go-mssqldb's README show (server=host,port; host\instance; quoted values with doubled quotes;
 * key synonyms), plus malformed ones that must be refused without echoing the password.
 */
#include <stdlib.h>
#include <string.h>

#include "store_check.h"
#include "stores/sql/sqlserver_conn.h"

static void parses(void)
{
    ss_sqlserver_conn c;
    ss_error err = {0};
    /* Dapr's docs example. */
    ss_code rc = ss_sqlserver_conn_parse(
        "server=localhost;user id=sa;password=Pass@Word1;port=1433;database=dapr", &c, &err);
    CHECK(rc == SS_OK, "dapr example: %s", err.message);
    if (rc == SS_OK) {
        CHECK(!strcmp(c.host, "localhost") && c.port == 1433, "host %s port %u", c.host, c.port);
        CHECK(!strcmp(c.user, "sa") && !strcmp(c.password, "Pass@Word1"), "user/password");
        CHECK(!strcmp(c.database, "dapr") && c.encrypt == -1, "database %s", c.database);
        ss_sqlserver_conn_free(&c);
    }
    /* Synonyms, host,port, instance, quoting, spaces, a trailing ';'. */
    rc = ss_sqlserver_conn_parse(" Data Source = db.example , 14330 ; UID=app ; "
                                 "PWD=\"a;b\"\"c\" ; Initial Catalog='st''ate' ; "
                                 "Encrypt=strict;TrustServerCertificate=true;"
                                 "Connection Timeout=7;",
                                 &c, &err);
    CHECK(rc == SS_OK, "synonyms: %s", err.message);
    if (rc == SS_OK) {
        CHECK(!strcmp(c.host, "db.example"), "host \"%s\"", c.host);
        CHECK(c.port == 14330, "port %u", c.port);
        CHECK(!strcmp(c.user, "app"), "user %s", c.user);
        CHECK(!strcmp(c.password, "a;b\"c"), "quoted password %s", c.password);
        CHECK(!strcmp(c.database, "st'ate"), "quoted database %s", c.database);
        CHECK(c.encrypt == 1 && c.trust_server_certificate && c.connect_timeout_ms == 7000,
              "encrypt %d trust %d timeout %lld", c.encrypt, c.trust_server_certificate,
              (long long)c.connect_timeout_ms);
        ss_sqlserver_conn_free(&c);
    }
    rc = ss_sqlserver_conn_parse("server=host\\SQLEXPRESS;user=u", &c, &err);
    CHECK(rc == SS_OK && !strcmp(c.host, "host") && c.instance &&
              !strcmp(c.instance, "SQLEXPRESS") && c.port == 0,
          "instance: %s", err.message);
    if (rc == SS_OK) ss_sqlserver_conn_free(&c);
    rc = ss_sqlserver_conn_parse("", &c, &err);
    CHECK(rc == SS_OK && !strcmp(c.host, "localhost"), "empty string: %s", err.message);
    if (rc == SS_OK) ss_sqlserver_conn_free(&c);
}

static void refuses(void)
{
    const char *bad[] = {
        "server=h;password=Sekr1t;port=99999",  /* port out of range */
        "server=h,0;password=Sekr1t",           /* port 0 */
        "server=h;password=\"Sekr1t",           /* no closing quote */
        "server=h;password='Sekr1t'x",          /* text after a quoted value */
        "server=h;colour=blue;password=Sekr1t", /* unknown key */
        "server=h;Sekr1t",                      /* no '=' */
        "server=;password=Sekr1t",              /* empty server */
        "server=h;encrypt=maybe;password=Sekr1t",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ss_sqlserver_conn c;
        ss_error err = {0};
        ss_code rc = ss_sqlserver_conn_parse(bad[i], &c, &err);
        CHECK(rc == SS_INVALID, "accepted: %s", bad[i]);
        CHECK(!strstr(err.message, "Sekr1t"), "the password is in the message: %s", err.message);
        CHECK(strstr(err.message, "connectionString"), "message does not name the property: %s",
              err.message);
        if (rc == SS_OK) ss_sqlserver_conn_free(&c);
    }
}

static void transient(void)
{
    const long yes[] = {1205, 40613, 40501, 49918, 49919, 49920, 10928, 40197};
    const long no[] = {2627, 2601, 547, 208, 18456, 0, -1};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
        CHECK(ss_sqlserver_transient(yes[i]), "%ld not transient", yes[i]);
    /* Duplicate key (2627, 2601), constraint (547), missing table (208), login failed (18456)
     * are never retried: a retry cannot change their outcome. */
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
        CHECK(!ss_sqlserver_transient(no[i]), "%ld transient", no[i]);
}

int main(void)
{
    parses();
    refuses();
    transient();
    return check_summary("sqlserver_conn_test");
}
