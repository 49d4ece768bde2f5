# SQL Server: no SQL Server can run in this environment (Debian ships none), so the driver is
# tested without one: every T-SQL batch it sends and every value in it (sqlserver_tsql_test), and
# the ADO connection-string parser with the transient error numbers (sqlserver_conn_test). The
# conformance suite runs only when SS_TEST_SQLSERVER_DSN holds an ADO connection string for a real
# server; otherwise it prints a skip.
if(SS_HAVE_SQLSERVER)
  if(COMMAND ss_add_conformance)
    ss_add_conformance(sqlserver DRIVER sqlserver
      PROPS "connectionString=\${SS_TEST_SQLSERVER_DSN}" "cleanupInterval=1s"
      LABELS sqlserver)
  endif()
  ss_add_test(sqlserver_tsql_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/sqlserver_tsql_test.c
              LABELS sqlserver TIMEOUT 30)
  ss_add_test(sqlserver_conn_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/sqlserver_conn_test.c
              LABELS sqlserver TIMEOUT 30)
else()
  ss_add_test(sqlserver_conn_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/sqlserver_conn_test.c
              ${CMAKE_SOURCE_DIR}/src/stores/sql/sqlserver_conn.c LABELS sqlserver TIMEOUT 30)
endif()
# FreeTDS's result handling against a peer answering in TDS 7.4 as [MS-TDS] describes it.
if(SS_HAVE_SQLSERVER)
  ss_add_test(sqlserver_tds_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/sqlserver_tds_test.c
              LIBS Threads::Threads LABELS sqlserver TIMEOUT 60)
endif()
