# cassandra: the conformance suite against a real Cassandra 5.0 node with PasswordAuthenticator
# on and Dapr's default consistency All (scripts/services/cassandra.sh), the CQL frame codec's
# unit test (no server) and the driver's own tests.
if(SS_HAVE_CASSANDRA)
  if(COMMAND ss_add_conformance)
    ss_add_conformance(cassandra DRIVER cassandra
      PROPS "hosts=\${SS_TEST_CASSANDRA_HOSTS}" "port=\${SS_TEST_CASSANDRA_PORT}"
            "username=\${SS_TEST_CASSANDRA_USER}" "password=\${SS_TEST_CASSANDRA_PASSWORD}"
      TIMEOUT 600)
  endif()
  ss_add_test(cassandra_cql_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/cassandra_cql_test.c
              LABELS cassandra unit TIMEOUT 60)
  # A scripted CQL server in the test (error mapping, UNPREPARED, host failover), and on the
  # real server: login, a table as Dapr's component makes it, values over the server's limits.
  ss_add_test(cassandra_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/cassandra_test.c
              LIBS Threads::Threads LABELS cassandra TIMEOUT 120)
endif()
