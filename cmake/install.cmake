# install.cmake - what `cmake --install` puts where, and the libbouncer-verp library for
# senders. Included last from CMakeLists.txt. The Debian packages are built from debian/ with
# debhelper (dpkg-buildpackage), which runs this install into debian/tmp. docs/operations.md and
# deploy/README.md say how the pieces are used.
include(GNUInstallDirs)
# Where the systemd unit goes: relative to the prefix by default; debian/rules gives bookworm's
# /lib/systemd/system, where dh_installsystemd looks.
set(BOUNCER_SYSTEMD_UNITDIR "lib/systemd/system" CACHE STRING "systemd unit directory")
if(IS_ABSOLUTE "${BOUNCER_SYSTEMD_UNITDIR}")
  set(bh_unitdir "${BOUNCER_SYSTEMD_UNITDIR}")
else()
  set(bh_unitdir "\${CMAKE_INSTALL_PREFIX}/${BOUNCER_SYSTEMD_UNITDIR}")
endif()

# --- libbouncer-verp: the VERP encoder/decoder for sending code (static and shared) ---
# verp.c and exactly the project modules it includes (closure over #include "x.h" with an x.c
# beside the header in its folder of handler/), so the library follows verp.c as it changes, and
# never pulls in more than it uses.
set(bh_verp_todo ${CMAKE_SOURCE_DIR}/handler/verp/verp.c)
set(BH_VERP_SOURCES "")
set(BH_VERP_INCLUDES "")
set(bh_verp_seen "")
set(bh_verp_guard 0)
while(bh_verp_todo AND bh_verp_guard LESS 50)
  math(EXPR bh_verp_guard "${bh_verp_guard} + 1")
  list(POP_FRONT bh_verp_todo bh_src)
  if(bh_src MATCHES "\\.c$")
    list(APPEND BH_VERP_SOURCES ${bh_src})
  endif()
  get_filename_component(bh_srcdir ${bh_src} DIRECTORY)
  list(APPEND BH_VERP_INCLUDES ${bh_srcdir})
  file(STRINGS ${bh_src} bh_incs REGEX "^#include \"[a-z0-9_]+\\.h\"")
  foreach(bh_inc ${bh_incs})
    string(REGEX REPLACE "^#include \"([a-z0-9_]+)\\.h\".*" "\\1" bh_mod "${bh_inc}")
    file(GLOB bh_h ${CMAKE_SOURCE_DIR}/handler/*/${bh_mod}.h)
    if(NOT bh_h)
      continue()
    endif()
    get_filename_component(bh_hdir ${bh_h} DIRECTORY)
    # the header itself, for what it includes, and its module's source
    foreach(bh_next ${bh_h} ${bh_hdir}/${bh_mod}.c)
      if(EXISTS ${bh_next} AND NOT bh_next IN_LIST BH_VERP_SOURCES
         AND NOT bh_next IN_LIST bh_verp_todo AND NOT bh_next IN_LIST bh_verp_seen)
        list(APPEND bh_verp_todo ${bh_next})
        list(APPEND bh_verp_seen ${bh_next})
      endif()
    endforeach()
  endforeach()
endwhile()
list(REMOVE_DUPLICATES BH_VERP_INCLUDES)
# What a static link needs besides the archive (shared links need nothing: the .so records it).
# verp.c uses nettle (HMAC-SHA256) and libidn2 (IDN domains); addr.c, if pulled in, libidn2.
set(BH_VERP_PC_REQUIRES "nettle, libidn2")
message(STATUS "libbouncer-verp sources: ${BH_VERP_SOURCES}")

add_library(bouncer_verp_objs OBJECT ${BH_VERP_SOURCES})
set_target_properties(bouncer_verp_objs PROPERTIES POSITION_INDEPENDENT_CODE ON)
target_compile_definitions(bouncer_verp_objs PRIVATE BH_VERSION="${PROJECT_VERSION}")
target_include_directories(bouncer_verp_objs PRIVATE ${BH_VERP_INCLUDES})
target_link_libraries(bouncer_verp_objs PRIVATE PkgConfig::NETTLE PkgConfig::IDN2)

add_library(bouncer_verp_shared SHARED $<TARGET_OBJECTS:bouncer_verp_objs>)
# Only bh_verp_* is the ABI: the version script hides the util functions it carries along.
set_target_properties(bouncer_verp_shared PROPERTIES OUTPUT_NAME bouncer-verp
  VERSION ${PROJECT_VERSION} SOVERSION ${PROJECT_VERSION_MAJOR}
  LINK_DEPENDS ${CMAKE_SOURCE_DIR}/deploy/lib/bouncer-verp.map)
target_link_options(bouncer_verp_shared PRIVATE -Wl,--as-needed
  -Wl,--version-script=${CMAKE_SOURCE_DIR}/deploy/lib/bouncer-verp.map)
if(NOT BOUNCER_SANITIZE AND NOT BOUNCER_FUZZ)
  # clang's ASan runtime is linked into executables only, so a sanitized .so has undefined
  # __asan_* symbols by design; the check holds for the shipped build.
  target_link_options(bouncer_verp_shared PRIVATE -Wl,--no-undefined)
endif()
target_link_libraries(bouncer_verp_shared PRIVATE PkgConfig::NETTLE PkgConfig::IDN2 m)

add_library(bouncer_verp_static STATIC $<TARGET_OBJECTS:bouncer_verp_objs>)
set_target_properties(bouncer_verp_static PROPERTIES OUTPUT_NAME bouncer-verp)

install(TARGETS bouncer_verp_shared bouncer_verp_static
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(FILES ${CMAKE_SOURCE_DIR}/handler/verp/verp.h
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/bouncer)

# --- man pages, compressed as Debian wants them ---
set(bh_man_out "")
foreach(bh_page bouncer.1 bouncer.yaml.5 bouncer-verp.3)
  string(REGEX REPLACE ".*\\.([0-9])$" "\\1" bh_sec ${bh_page})
  add_custom_command(OUTPUT ${CMAKE_BINARY_DIR}/man/${bh_page}.gz
    COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/man
    COMMAND gzip -9nc ${CMAKE_SOURCE_DIR}/deploy/man/${bh_page} > ${CMAKE_BINARY_DIR}/man/${bh_page}.gz
    DEPENDS ${CMAKE_SOURCE_DIR}/deploy/man/${bh_page})
  list(APPEND bh_man_out ${CMAKE_BINARY_DIR}/man/${bh_page}.gz)
  install(FILES ${CMAKE_BINARY_DIR}/man/${bh_page}.gz
          DESTINATION ${CMAKE_INSTALL_MANDIR}/man${bh_sec})
endforeach()
add_custom_target(bouncer_man ALL DEPENDS ${bh_man_out})

# --- files whose text names install paths: written at install time, so that
# `cmake --install --prefix X` and dh_auto_install (prefix /usr) both get the prefix they install to ---
install(CODE "
  set(BH_PREFIX \"\${CMAKE_INSTALL_PREFIX}\")
  set(BH_LIBDIR \"${CMAKE_INSTALL_LIBDIR}\")
  set(BH_INCLUDEDIR \"${CMAKE_INSTALL_INCLUDEDIR}\")
  set(BH_VERSION \"${PROJECT_VERSION}\")
  set(BH_VERP_PC_REQUIRES \"${BH_VERP_PC_REQUIRES}\")
  set(gen \"${CMAKE_BINARY_DIR}/install-gen\")
  configure_file(\"${CMAKE_SOURCE_DIR}/deploy/lib/bouncer-verp.pc.in\" \"\${gen}/bouncer-verp.pc\" @ONLY)
  file(INSTALL DESTINATION \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_LIBDIR}/pkgconfig\"
       TYPE FILE FILES \"\${gen}/bouncer-verp.pc\")
  file(READ \"${CMAKE_SOURCE_DIR}/deploy/systemd/bouncer.service\" unit)
  string(REPLACE \"/usr/bin/bouncer\" \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_BINDIR}/bouncer\" unit \"\${unit}\")
  file(WRITE \"\${gen}/bouncer.service\" \"\${unit}\")
  file(INSTALL DESTINATION \"${bh_unitdir}\"
       TYPE FILE FILES \"\${gen}/bouncer.service\")
")
install(FILES ${CMAKE_SOURCE_DIR}/deploy/systemd/bouncer.sysusers
        DESTINATION lib/sysusers.d RENAME bouncer.conf)
install(FILES ${CMAKE_SOURCE_DIR}/deploy/bouncer.yaml
        DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)
install(FILES ${CMAKE_SOURCE_DIR}/deploy/README.md
        DESTINATION ${CMAKE_INSTALL_DOCDIR} RENAME README.deploy.md)
