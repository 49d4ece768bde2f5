# hazelcast: the wire codec's unit tests (no server), the conformance suite against a real
# 2-member cluster, and failover with one member killed mid-load
# (scripts/services/hazelcast.sh writes SS_TEST_HAZELCAST_*; the server tests skip without it).
if(SS_HAVE_HAZELCAST)
  ss_add_test(hazelcast_codec_test
              SOURCES ${CMAKE_CURRENT_LIST_DIR}/hazelcast_codec_test.c
                      ${CMAKE_SOURCE_DIR}/src/stores/hazelcast/codec.c
              LABELS hazelcast TIMEOUT 60)
  if(COMMAND ss_add_conformance)
    ss_add_conformance(hazelcast DRIVER hazelcast
                       PROPS "hazelcastServers=\${SS_TEST_HAZELCAST_SERVERS}"
                             "hazelcastMap=conformance"
                             "clusterName=\${SS_TEST_HAZELCAST_CLUSTER}")
    # The same suite with smart routing off: every request through any member (unisocket).
    ss_add_conformance(hazelcast_unisocket DRIVER hazelcast
                       PROPS "hazelcastServers=\${SS_TEST_HAZELCAST_SERVERS}"
                             "hazelcastMap=conformance-unisocket"
                             "clusterName=\${SS_TEST_HAZELCAST_CLUSTER}" "smartRouting=false")
  endif()
  ss_add_test(hazelcast_failover_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/hazelcast_failover_test.c
              LABELS hazelcast TIMEOUT 300)
  target_compile_definitions(hazelcast_failover_test PRIVATE
    SS_HAZELCAST_SCRIPT="${CMAKE_SOURCE_DIR}/scripts/services/hazelcast.sh")
  # It kills and restarts a member of the shared cluster: nothing else may run meanwhile.
  set_tests_properties(hazelcast_failover_test PROPERTIES RUN_SERIAL TRUE)
endif()
