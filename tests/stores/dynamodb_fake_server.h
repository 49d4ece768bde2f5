/* dynamodb_fake_server.h — a canned-answer HTTP server for driver tests (see the .c file). */
#ifndef SS_TEST_DYNAMODB_FAKE_SERVER_H
#define SS_TEST_DYNAMODB_FAKE_SERVER_H

#include <stddef.h>

typedef struct fake fake;

fake *fake_start(void); /* NULL when no socket could be opened */
int fake_port(const fake *f);
/* Queues the next answer: status, extra header lines (each ending "\r\n", may be NULL), body. */
void fake_queue(fake *f, int status, const char *headers, const char *body);
size_t fake_count(fake *f);       /* requests answered so far */
char *fake_last_request(fake *f); /* the raw last request (free()), NULL when none */
void fake_stop(fake *f);          /* NULL is fine */

#endif
