# ZooKeeper: the conformance suite, the driver's own tests against the shared server, and
# reconnect/session expiry on a private server the test starts itself (scripts/services/zookeeper.sh).
if(SS_HAVE_ZOOKEEPER)
  if(COMMAND ss_add_conformance)
    ss_add_conformance(zookeeper DRIVER zookeeper
                       PROPS "servers=\${SS_TEST_ZOOKEEPER_SERVERS}" "keyPrefixPath=/ss-conformance")
  endif()
  ss_add_test(zookeeper_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/zookeeper_test.c
              LIBS ${SSLIB_zookeeper_mt} LABELS zookeeper TIMEOUT 120)
  target_compile_definitions(zookeeper_test PRIVATE THREADED)
  ss_add_test(zookeeper_session_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/zookeeper_session_test.c
              LABELS zookeeper TIMEOUT 300)
  target_compile_definitions(zookeeper_session_test PRIVATE
    SS_ZOOKEEPER_SCRIPT="${CMAKE_SOURCE_DIR}/scripts/services/zookeeper.sh")
endif()
