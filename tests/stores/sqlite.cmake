# sqlite: the conformance suite on a file (WAL) and on ":memory:", and the driver's own tests
# (Dapr's file layout, reopen byte-exact, several processes on one file).
if(SS_HAVE_SQLITE)
  if(COMMAND ss_add_conformance)
    set(_ss_sqlite_db ${CMAKE_CURRENT_BINARY_DIR}/sqlite-conformance.db)
    ss_add_conformance(sqlite DRIVER sqlite PROPS "connectionString=${_ss_sqlite_db}"
                       "cleanupInterval=1s")
    ss_add_conformance(sqlite_memory DRIVER sqlite PROPS "connectionString=:memory:")
  endif()
  ss_add_test(sqlite_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/sqlite_test.c LABELS sqlite
              TIMEOUT 120)
  ss_add_test(sqlite_multiproc_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/sqlite_multiproc_test.c
              LABELS sqlite TIMEOUT 180)
endif()
