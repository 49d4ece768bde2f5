# SQL Server (issue 16, in progress): the ADO connection-string parser and the transient error
# numbers, without a server (no SQL Server can run in this environment). The driver itself, a
# dialect of src/stores/sql/ on FreeTDS, is not written yet.
ss_add_test(sqlserver_conn_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/sqlserver_conn_test.c
            ${CMAKE_SOURCE_DIR}/src/stores/sql/sqlserver_conn.c LABELS sqlserver TIMEOUT 30)
