# Plumbing shared by several drivers (HTTP client on libcurl, signing, base64, JSON helpers).
pkg_check_modules(SS_CURL REQUIRED IMPORTED_TARGET libcurl)
pkg_check_modules(SS_JANSSON REQUIRED IMPORTED_TARGET jansson)
pkg_check_modules(SS_OPENSSL REQUIRED IMPORTED_TARGET libcrypto)
file(GLOB SS_SUPPORT_SOURCES CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/src/support/*.c)
set(SS_SUPPORT_LIBS PkgConfig::SS_CURL PkgConfig::SS_JANSSON PkgConfig::SS_OPENSSL)
list(APPEND SS_PC_REQUIRES libcurl jansson libcrypto)
