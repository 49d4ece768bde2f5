# gcp.firestore: the conformance suite and the driver's own tests against Google's Datastore
# emulator (scripts/services/datastore.sh; skipped, saying why, where the emulator is absent),
# plus the service-account JWT signing test and the error-mapping test, which need no emulator.
if(SS_HAVE_FIRESTORE)
  if(COMMAND ss_add_conformance)
    ss_add_conformance(firestore DRIVER gcp.firestore
      PROPS "endpoint=\${SS_TEST_DATASTORE_ENDPOINT}" "project_id=\${SS_TEST_DATASTORE_PROJECT}"
      LABELS firestore)
  endif()
  ss_add_test(firestore_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/firestore_test.c
              LIBS Threads::Threads LABELS firestore TIMEOUT 120)
  pkg_check_modules(SS_CLOUD2_MHD QUIET IMPORTED_TARGET libmicrohttpd)
  if(SS_CLOUD2_MHD_FOUND)
    ss_add_test(google_auth_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/google_auth_test.c
                LIBS PkgConfig::SS_CLOUD2_MHD LABELS "firestore;unit" TIMEOUT 60)
    # Error mapping and the authenticated path against a scripted local server.
    ss_add_test(firestore_errors_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/firestore_errors_test.c
                LIBS PkgConfig::SS_CLOUD2_MHD Threads::Threads LABELS "firestore;unit" TIMEOUT 60)
  endif()
endif()
