# etcd driver vs raw libcurl JSON calls, and zookeeper driver vs raw libzookeeper calls. Need
# SS_TEST_ETCD_ENDPOINTS / SS_TEST_ZOOKEEPER_SERVERS (scripts/services/etcd.sh, zookeeper.sh);
# each exits 77 without its server.
if(SS_HAVE_ETCD)
  ss_add_bench(etcd_bench SOURCES ${CMAKE_CURRENT_LIST_DIR}/../etcd_bench.c)
endif()
if(SS_HAVE_ZOOKEEPER)
  ss_add_bench(zookeeper_bench SOURCES ${CMAKE_CURRENT_LIST_DIR}/../zookeeper_bench.c)
  target_compile_definitions(zookeeper_bench PRIVATE THREADED)
endif()
