#define SQLT_MYSQL 1
/* The MySQL/MariaDB run of the SQL driver tests: same cases, raw checks through libmariadb. */
#include "postgresql_driver_test.c"
