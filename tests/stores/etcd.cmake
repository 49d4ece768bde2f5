# etcd: the conformance suite on a single member, the driver's own tests, and failover on a
# 3-member cluster with one member stopped mid-run (servers: scripts/services/etcd*.sh).
if(SS_HAVE_ETCD)
  if(COMMAND ss_add_conformance)
    ss_add_conformance(etcd DRIVER etcd PROPS "endpoints=\${SS_TEST_ETCD_ENDPOINTS}")
  endif()
  ss_add_test(etcd_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/etcd_test.c LABELS etcd TIMEOUT 120)
  ss_add_test(etcd_cluster_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/etcd_cluster_test.c
              LABELS etcd TIMEOUT 180)
  target_compile_definitions(etcd_cluster_test PRIVATE
    SS_ETCD_CLUSTER_SCRIPT="${CMAKE_SOURCE_DIR}/scripts/services/etcd-cluster.sh")
  # It stops and starts cluster members: never alongside another run of itself.
  set_tests_properties(etcd_cluster_test PROPERTIES RESOURCE_LOCK etcd_cluster)
  # TLS (client certificates) and auth, each on a private etcd the test starts itself.
  ss_add_test(etcd_secure_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/etcd_secure_test.c
              LABELS etcd TIMEOUT 120)
  target_compile_definitions(etcd_secure_test PRIVATE
    SS_ETCD_SCRIPT="${CMAKE_SOURCE_DIR}/scripts/services/etcd.sh")
endif()
