# Consul: no Consul server can run in this environment (Debian ships none), so the driver is
# tested against a replaying HTTP peer (consul_test: requests checked exactly against Consul's
# API documentation), and the conformance suite runs only when SS_TEST_CONSUL_ADDR names a real
# Consul agent's host:port (datacenter SS_TEST_CONSUL_DC, default dc1); otherwise it prints a skip.
if(SS_HAVE_CONSUL)
  if(COMMAND ss_add_conformance)
    ss_add_conformance(consul DRIVER consul
      PROPS "httpAddr=\${SS_TEST_CONSUL_ADDR}" "datacenter=dc1" "keyPrefixPath=statestore-conformance"
      LABELS consul)
  endif()
  ss_add_test(consul_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/consul_test.c
              ${CMAKE_CURRENT_LIST_DIR}/dynamodb_fake_server.c LIBS Threads::Threads
              LABELS consul TIMEOUT 60)
endif()
