# mysql: the conformance suite and the driver's own tests against a real MariaDB server
# (scripts/services/mariadb.sh), including one that stops and restarts that server.
# The driver is a dialect of src/stores/sql/ (sql.c + mysql.c + mysql_dsn.c): these runs also
# cover the skeleton the SQL drivers share.
if(SS_HAVE_MYSQL)
  if(COMMAND ss_add_conformance)
    ss_add_conformance(mysql DRIVER mysql
      PROPS "connectionString=\${SS_TEST_MYSQL_DSN}" "cleanupIntervalInSeconds=1")
  endif()
  ss_add_test(mysql_driver_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/mysql_driver_test.c
              LABELS mysql TIMEOUT 180)
  # The same binary stops and restarts the shared server: nothing else may run meanwhile.
  add_test(NAME mysql_restart_test COMMAND mysql_driver_test restart)
  set_tests_properties(mysql_restart_test PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 180
                       RUN_SERIAL TRUE LABELS mysql)
endif()
