# postgresql: the conformance suite and the driver's own tests against a real server
# (scripts/services/postgresql.sh), including one that stops and restarts that server.
# The driver is a dialect of src/stores/sql/ (sql.c + postgresql.c): these runs also cover the
# skeleton the SQL drivers share.
if(SS_HAVE_POSTGRESQL)
  if(COMMAND ss_add_conformance)
    ss_add_conformance(postgresql DRIVER postgresql
      PROPS "connectionString=\${SS_TEST_POSTGRES_DSN}" "cleanupInterval=1s")
  endif()
  ss_add_test(postgresql_driver_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/postgresql_driver_test.c
              LABELS postgresql TIMEOUT 180)
  # The same binary stops and restarts the shared server: nothing else may run meanwhile.
  add_test(NAME postgresql_restart_test COMMAND postgresql_driver_test restart)
  set_tests_properties(postgresql_restart_test PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 180
                       RUN_SERIAL TRUE LABELS postgresql)
endif()
