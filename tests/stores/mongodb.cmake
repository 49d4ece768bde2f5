# mongodb: the conformance suite against mongo-java-server (scripts/services/mongodb.sh writes
# SS_TEST_MONGODB_HOST; the run skips without it), and the unit test of the documents and
# commands the driver sends.
if(SS_HAVE_MONGODB)
  if(COMMAND ss_add_conformance)
    ss_add_conformance(mongodb DRIVER mongodb
      PROPS "host=\${SS_TEST_MONGODB_HOST}" "databaseName=statestoreTest")
  endif()
endif()
if(SS_HAVE_MONGODB)
  # No server needed: a fake wire-protocol server inside the test records what is sent.
  ss_add_test(mongodb_commands_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/mongodb_commands_test.c
              LIBS PkgConfig::SSPKG_libmongoc_1_0 LABELS mongodb TIMEOUT 120)
endif()
