# statestored over HTTP (wrk + hey): GET/save throughput, Dapr's perf-test shape, idle RSS, and
# the ratio to a fixed-200 libmicrohttpd server (bench/daemon/).
if(TARGET statestored)
  pkg_check_modules(SS_BENCH_MHD REQUIRED IMPORTED_TARGET libmicrohttpd)
  add_executable(fixed200 ${CMAKE_CURRENT_LIST_DIR}/../daemon/fixed200.c)
  target_compile_options(fixed200 PRIVATE ${SS_WARNINGS})
  target_link_libraries(fixed200 PRIVATE PkgConfig::SS_BENCH_MHD Threads::Threads)
  ss_add_bench(daemon_bench SOURCES ${CMAKE_CURRENT_LIST_DIR}/../daemon/daemon_bench.c)
  target_compile_definitions(daemon_bench PRIVATE
    SS_BENCH_RUN_SH="${CMAKE_CURRENT_LIST_DIR}/../daemon/run.sh"
    SS_BENCH_STATESTORED="$<TARGET_FILE:statestored>"
    SS_BENCH_FIXED200="$<TARGET_FILE:fixed200>")
  add_dependencies(daemon_bench statestored fixed200)
endif()
