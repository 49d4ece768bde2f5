# mongodb: the conformance suite against mongo-java-server (scripts/services/mongodb.sh writes
# SS_TEST_MONGODB_HOST; the run skips without it), and the unit test of the documents and
# commands the driver sends.
if(SS_HAVE_MONGODB)
  if(COMMAND ss_add_conformance)
    ss_add_conformance(mongodb DRIVER mongodb
      PROPS "host=\${SS_TEST_MONGODB_HOST}" "databaseName=statestoreTest")
  endif()
endif()
