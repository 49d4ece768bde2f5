# redis: the conformance suite on standalone, cluster and sentinel servers, and the driver's own
# tests (servers: scripts/services/redis.sh, redis-cluster.sh, redis-sentinel.sh).
if(SS_HAVE_REDIS)
  if(COMMAND ss_add_conformance)
    ss_add_conformance(redis DRIVER redis PROPS "redisHost=\${SS_TEST_REDIS_ADDR}")
    # In a cluster a transaction's keys must share a hash slot (else the intended INVALID "use a
    # hash tag"), so the cluster run puts the suite's key prefix in a hash tag: every case runs.
    ss_add_conformance(redis_cluster DRIVER redis
      PROPS "redisHost=\${SS_TEST_REDIS_CLUSTER_ADDRS}" "redisType=cluster" HASH_TAG)
    ss_add_conformance(redis_sentinel DRIVER redis
      PROPS "redisHost=\${SS_TEST_REDIS_SENTINEL_ADDR}" "failover=true"
            "sentinelMasterName=\${SS_TEST_REDIS_SENTINEL_MASTER}")
  endif()
  ss_add_test(redis_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/redis_test.c ARGS node
              LABELS redis TIMEOUT 120)
  target_compile_definitions(redis_test PRIVATE
    SS_REDIS_SCRIPT="${CMAKE_SOURCE_DIR}/scripts/services/redis.sh")
  # The same binary in the other two modes.
  add_test(NAME redis_cluster_test COMMAND redis_test cluster)
  add_test(NAME redis_sentinel_test COMMAND redis_test sentinel)
  set_tests_properties(redis_cluster_test redis_sentinel_test PROPERTIES
    SKIP_RETURN_CODE 77 TIMEOUT 180 LABELS redis)
  # redis_test restarts the standalone server; the sentinel test fails the master over: keep
  # the conformance runs on those servers away from them.
  set_tests_properties(redis_test PROPERTIES RESOURCE_LOCK redis_node)
  set_tests_properties(redis_sentinel_test PROPERTIES RESOURCE_LOCK redis_sentinel)
  set_tests_properties(redis_cluster_test PROPERTIES RESOURCE_LOCK redis_cluster)
  foreach(pair "redis;redis_node" "redis_cluster;redis_cluster" "redis_sentinel;redis_sentinel")
    list(GET pair 0 conf)
    list(GET pair 1 lock)
    foreach(t conformance.${conf})
      if(TEST ${t})
        set_tests_properties(${t} PROPERTIES RESOURCE_LOCK ${lock})
      endif()
    endforeach()
  endforeach()
endif()
