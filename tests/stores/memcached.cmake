# memcached: the conformance suite and the driver's own tests against a real server
# (scripts/services/memcached.sh writes SS_TEST_MEMCACHED_HOSTS; the tests skip without it).
if(SS_HAVE_MEMCACHED)
  if(COMMAND ss_add_conformance)
    ss_add_conformance(memcached DRIVER memcached PROPS "hosts=\${SS_TEST_MEMCACHED_HOSTS}")
  endif()
  ss_add_test(memcached_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/memcached_test.c LABELS memcached
              TIMEOUT 120)
  ss_add_test(memcached_restart_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/memcached_restart_test.c
              LABELS memcached TIMEOUT 120)
  # The restart test stops the shared server: it runs alone (RUN_SERIAL), so no other test
  # (the conformance run included) sees the outage.
  set_tests_properties(memcached_restart_test PROPERTIES RUN_SERIAL TRUE)
endif()
