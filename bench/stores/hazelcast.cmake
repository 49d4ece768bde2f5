# hazelcast driver vs Hazelcast's Node.js client (bench/hazelcast/raw_client.js, from the npm
# tools in tests/servers/npm). Needs SS_TEST_HAZELCAST_SERVERS (scripts/services/hazelcast.sh);
# exits 77 without it.
if(SS_HAVE_HAZELCAST)
  ss_add_bench(hazelcast_bench SOURCES ${CMAKE_CURRENT_LIST_DIR}/../hazelcast_bench.c)
  target_compile_definitions(hazelcast_bench PRIVATE SS_SOURCE_DIR="${CMAKE_SOURCE_DIR}")
endif()
