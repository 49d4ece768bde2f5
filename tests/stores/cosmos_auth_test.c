/*
 * cosmos_auth_test.c — the Cosmos DB master-key token against the worked example in Microsoft's
 * REST documentation ("Access control in the Azure Cosmos DB SQL API", master key tokens): the
 * stand-in server never checks signatures, so this is what pins the algorithm.
 */
#include <stdio.h>
#include <string.h>

#include "support/cosmos_auth.h"
#include "unit/check.h"

/* The documented example: GET of database "ToDoList" on Thu, 27 Apr 2017 00:51:12 GMT. */
static const char doc_key[] =
    "dsZQi3KtZmCv1ljt3VNWNm7sQUF1y5rJfC6kv5JiwvW0EndXdDku/dkKBp8/ufDToSxLzR4y+O/0H/t4bQtVNw==";
static const char doc_token[] =
    "type%3dmaster%26ver%3d1.0%26sig%3dc09PEVJrgp2uQRkr934kFbTqhByc7TVr3OHyqlu%2bc%2bc%3d";

int main(void)
{
    ss_error err = {0};
    ss_cosmos_key *key = NULL;
    CHECK_RC(ss_cosmos_key_new(&key, doc_key, &err), SS_OK, &err);
    if (!key) return 1;
    char tok[160];

    /* Verb and resource type are lower-cased and the date too, whatever case they come in. */
    CHECK(ss_cosmos_auth_token(key, "GET", "dbs", "dbs/ToDoList", "Thu, 27 Apr 2017 00:51:12 GMT",
                               tok, sizeof tok));
    CHECK_STR(tok, doc_token);
    CHECK(ss_cosmos_auth_token(key, "get", "DBS", "dbs/ToDoList", "thu, 27 apr 2017 00:51:12 gmt",
                               tok, sizeof tok));
    CHECK_STR(tok, doc_token);

    /* The resource link is case-sensitive (ids are), so another link signs differently. */
    CHECK(ss_cosmos_auth_token(key, "GET", "dbs", "dbs/todolist", "Thu, 27 Apr 2017 00:51:12 GMT",
                               tok, sizeof tok));
    CHECK(strcmp(tok, doc_token) != 0);

    /* Too small an output buffer is refused, not overrun. */
    char small[20];
    CHECK(!ss_cosmos_auth_token(key, "GET", "dbs", "dbs/ToDoList", "Thu, 27 Apr 2017 00:51:12 GMT",
                                small, sizeof small));
    ss_cosmos_key_free(key);
    ss_cosmos_key_free(NULL);

    /* The x-ms-date text: RFC 1123 in English whatever the locale. */
    char date[40];
    ss_cosmos_date(1493254272, date, sizeof date);
    CHECK_STR(date, "Thu, 27 Apr 2017 00:51:12 GMT");
    ss_cosmos_date(0, date, sizeof date);
    CHECK_STR(date, "Thu, 01 Jan 1970 00:00:00 GMT");

    /* A key that is not base64 is INVALID, and the message does not repeat it. */
    const char *bad = "not base64 but a s3cret!";
    key = NULL;
    CHECK_RC(ss_cosmos_key_new(&key, bad, &err), SS_INVALID, &err);
    CHECK(key == NULL);
    CHECK(strstr(err.message, "s3cret") == NULL);
    CHECK(strstr(err.message, "masterKey") != NULL);
    CHECK_RC(ss_cosmos_key_new(&key, "", &err), SS_INVALID, &err);

    return check_done("cosmos_auth_test");
}
