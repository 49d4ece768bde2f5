# cassandra driver vs python3-cassandra (bench/cassandra_ref.py). Needs SS_TEST_CASSANDRA_PORT
# (scripts/services/cassandra.sh) and Debian's python3-cassandra; exits 77 without the server.
if(SS_HAVE_CASSANDRA)
  ss_add_bench(cassandra_bench SOURCES ${CMAKE_CURRENT_LIST_DIR}/../cassandra_bench.c)
  target_compile_definitions(cassandra_bench PRIVATE
    SS_CASSANDRA_REF="${CMAKE_SOURCE_DIR}/bench/cassandra_ref.py")
endif()
