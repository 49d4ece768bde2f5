# Plumbing shared by the drivers, the daemon and the CLI (HTTP client on libcurl, signing,
# base64, UTF-8, percent-decoding, buffers, the strict JSON reader and writer on jsmn).
pkg_check_modules(SS_CURL REQUIRED IMPORTED_TARGET libcurl)
pkg_check_modules(SS_JANSSON REQUIRED IMPORTED_TARGET jansson)
pkg_check_modules(SS_OPENSSL REQUIRED IMPORTED_TARGET libcrypto)
find_path(SS_JSMN_INCLUDE jsmn.h)
if(NOT SS_JSMN_INCLUDE)
  message(FATAL_ERROR "src/support/json.c needs jsmn.h (Debian: libjsmn-dev)")
endif()
file(GLOB SS_SUPPORT_SOURCES CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/src/support/*.c)
set(SS_SUPPORT_LIBS PkgConfig::SS_CURL PkgConfig::SS_JANSSON PkgConfig::SS_OPENSSL)
list(APPEND SS_PC_REQUIRES libcurl jansson libcrypto)
set_source_files_properties(${CMAKE_CURRENT_SOURCE_DIR}/src/support/json.c PROPERTIES
                            INCLUDE_DIRECTORIES ${SS_JSMN_INCLUDE})
