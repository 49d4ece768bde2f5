# Plumbing shared by the drivers, the daemon and the CLI (HTTP client on libcurl, signing,
# base64, UTF-8, percent-decoding, buffers, TCP sockets (net.c), the strict JSON reader and
# writer on jsmn; see docs/HACKING.md). Most of it needs nothing beyond libc (and the header-only
# jsmn) and is always built. A file that needs a library is built only when an enabled driver
# declares that library in its PKG list (src/stores/stores.cmake), which is also what links it: a
# build with only drivers that need none (memory, sqlite) needs neither libcurl, jansson nor
# libcrypto (tests/unit/minimal_build.sh checks it).
find_path(SS_JSMN_INCLUDE jsmn.h)
if(NOT SS_JSMN_INCLUDE)
  message(FATAL_ERROR "src/support/json.c needs jsmn.h (Debian: libjsmn-dev)")
endif()
file(GLOB SS_SUPPORT_SOURCES CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/src/support/*.c)
set_source_files_properties(${CMAKE_CURRENT_SOURCE_DIR}/src/support/json.c PROPERTIES
                            INCLUDE_DIRECTORIES ${SS_JSMN_INCLUDE})

# ss_support_needs(<file> <pkg-config modules...>): leaves <file> out unless every module is
# among the enabled drivers' (SS_DRIVER_PKGS, filled by ss_driver).
function(ss_support_needs file)
  foreach(mod IN LISTS ARGN)
    if(NOT mod IN_LIST SS_DRIVER_PKGS)
      list(REMOVE_ITEM SS_SUPPORT_SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/src/support/${file})
      set(SS_SUPPORT_SOURCES ${SS_SUPPORT_SOURCES} PARENT_SCOPE)
      return()
    endif()
  endforeach()
endfunction()

ss_support_needs(http.c libcurl)
ss_support_needs(aws_sigv4.c libcrypto)
ss_support_needs(azure_sharedkey.c libcrypto)
ss_support_needs(cosmos_auth.c libcrypto)
ss_support_needs(google_auth.c jansson libcrypto)
