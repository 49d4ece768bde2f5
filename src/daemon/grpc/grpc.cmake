# statestored's gRPC API (Dapr's dapr.proto.runtime.v1.Dapr state RPCs): libnghttp2 for HTTP/2,
# protobuf-c for the messages, generated at build time from src/daemon/proto.
# -DSS_DAEMON_GRPC=AUTO|ON|OFF; AUTO builds it when both libraries and protoc-c are found.
# Included by src/daemon/CMakeLists.txt, and by fuzz/CMakeLists.txt when the daemon is not built.
set(SS_DAEMON_GRPC AUTO CACHE STRING "statestored's gRPC API: AUTO, ON or OFF")
get_filename_component(ss_grpc_dir ${CMAKE_CURRENT_LIST_DIR} DIRECTORY)
set(ss_grpc_proto_dir ${ss_grpc_dir}/proto)
set(SS_GRPC_PROTO_DIR ${ss_grpc_proto_dir} PARENT_SCOPE)
set(SS_HAVE_GRPC OFF)
if(NOT SS_DAEMON_GRPC STREQUAL "OFF")
  pkg_check_modules(SS_NGHTTP2 IMPORTED_TARGET libnghttp2)
  pkg_check_modules(SS_PROTOBUF_C IMPORTED_TARGET libprotobuf-c)
  find_program(SS_PROTOC_C protoc-c)
  if(SS_NGHTTP2_FOUND AND SS_PROTOBUF_C_FOUND AND SS_PROTOC_C)
    set(SS_HAVE_GRPC ON)
  elseif(SS_DAEMON_GRPC STREQUAL "ON")
    message(FATAL_ERROR "SS_DAEMON_GRPC=ON needs libnghttp2-dev, libprotobuf-c-dev and "
                        "protobuf-c-compiler")
  else()
    message(STATUS "statestored: built without the gRPC API (libnghttp2-dev, libprotobuf-c-dev "
                   "or protobuf-c-compiler missing)")
  endif()
endif()
set(SS_HAVE_GRPC ${SS_HAVE_GRPC} PARENT_SCOPE)

if(SS_HAVE_GRPC)
  set(gen ${CMAKE_BINARY_DIR}/generated/grpc)
  set(protos dapr/proto/common/v1/common.proto dapr/proto/runtime/v1/state.proto)
  set(pb_sources "")
  foreach(p ${protos})
    string(REPLACE ".proto" ".pb-c.c" c ${p})
    string(REPLACE ".proto" ".pb-c.h" h ${p})
    list(APPEND pb_sources ${gen}/${c})
    add_custom_command(OUTPUT ${gen}/${c} ${gen}/${h}
                       COMMAND ${CMAKE_COMMAND} -E make_directory ${gen}
                       COMMAND ${SS_PROTOC_C} --c_out=${gen} -I${ss_grpc_proto_dir} ${p}
                       DEPENDS ${ss_grpc_proto_dir}/${p}
                       WORKING_DIRECTORY ${ss_grpc_proto_dir}
                       COMMENT "protoc-c ${p}")
  endforeach()
  # The generated code and the gRPC layer, shared by statestored and the fuzz targets.
  # state_ops.c (shared with the HTTP side) comes from the program that links this.
  add_library(ss_daemon_grpc STATIC ${pb_sources} ${ss_grpc_dir}/grpc/grpc_api.c
              ${ss_grpc_dir}/grpc/grpc_conn.c)
  target_include_directories(ss_daemon_grpc PUBLIC ${gen} PRIVATE ${SS_INTERNAL_INCLUDES})
  target_link_libraries(ss_daemon_grpc PUBLIC PkgConfig::SS_NGHTTP2 PkgConfig::SS_PROTOBUF_C
                        statestore_static)
  # generated code is not held to our warning flags; ours is (below, per source)
  set_source_files_properties(${ss_grpc_dir}/grpc/grpc_api.c ${ss_grpc_dir}/grpc/grpc_conn.c
                              PROPERTIES COMPILE_OPTIONS "${SS_WARNINGS}")
  if(TARGET statestored AND CMAKE_CURRENT_SOURCE_DIR STREQUAL ss_grpc_dir)
    # relative: tests/fault rebuilds statestored from its SOURCES under its SOURCE_DIR
    target_sources(statestored PRIVATE grpc/grpc_server.c)
    target_link_libraries(statestored PRIVATE ss_daemon_grpc)
    target_compile_definitions(statestored PRIVATE SS_DAEMON_HAVE_GRPC)
  endif()
endif()
