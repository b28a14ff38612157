# `cmake --install BUILD [--prefix P]` (and DESTDIR=...): the layout a host or an image gets.
#
#   P/sbin/xsmbd, P/sbin/xsmb-loader           the daemon and the BPF loader (need root)
#   P/bin/xsmbctl, P/bin/xsmb-bench             the admin tool and the load generator
#   P/libexec/xsmbd/xsmb-rpcd                   the DCE/RPC helper xsmbd starts (it looks in
#                                               ../libexec/xsmbd beside its own sbin)
#   P/lib/xsmbd/bpf/*.bpf.o                     the BPF objects (the loader embeds the same ones
#                                               as skeletons; these are for bpftool/llvm-objdump)
#   SYSCONF/xsmbd/smb.conf                      the default configuration, never overwritten
#   XSMB_SYSTEMD_UNIT_DIR/xsmbd.service         the systemd unit (deploy/systemd/)
#   P/share/doc/xsmbd/                          README and the operator guides
# SYSCONF is /etc for the prefix /usr, else P/etc (GNUInstallDirs).
include(GNUInstallDirs)

set(XSMB_SYSTEMD_UNIT_DIR "lib/systemd/system" CACHE PATH
    "where cmake --install puts xsmbd.service (relative: under the prefix)")
set(XSMB_STATE_DIR "/var/lib/xsmbd" CACHE PATH
    "the server's state (user database, domain SID, control socket) in the default smb.conf")

# The installed paths the unit and the default smb.conf name (configure with the final prefix,
# e.g. -DCMAKE_INSTALL_PREFIX=/usr; DESTDIR= stages them elsewhere).
set(XSMB_SBIN_DIR ${CMAKE_INSTALL_FULL_SBINDIR})
set(XSMB_CONF_DIR ${CMAKE_INSTALL_FULL_SYSCONFDIR}/xsmbd)
set(XSMB_DOC_DIR ${CMAKE_INSTALL_FULL_DOCDIR})

foreach(t xsmbd xsmb-loader)
  if(TARGET ${t})
    install(TARGETS ${t} RUNTIME DESTINATION ${CMAKE_INSTALL_SBINDIR} COMPONENT server)
  endif()
endforeach()
foreach(t xsmbctl xsmb-bench)
  if(TARGET ${t})
    install(TARGETS ${t} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT server)
  endif()
endforeach()
if(TARGET xsmb-rpcd)
  install(TARGETS xsmb-rpcd RUNTIME DESTINATION ${CMAKE_INSTALL_LIBEXECDIR}/xsmbd
          COMPONENT server)
endif()
if(XSMB_BPF_OBJECT_DIR)
  foreach(prog xsmb_xdp xsmb_tc xsmb_sock)
    install(FILES ${XSMB_BPF_OBJECT_DIR}/${prog}.bpf.o
            DESTINATION lib/xsmbd/bpf COMPONENT server)
  endforeach()
endif()

# The default smb.conf and the unit name the installed paths.
configure_file(${CMAKE_SOURCE_DIR}/deploy/smb.conf.in ${CMAKE_BINARY_DIR}/deploy/smb.conf @ONLY)
configure_file(${CMAKE_SOURCE_DIR}/deploy/systemd/xsmbd.service.in
               ${CMAKE_BINARY_DIR}/deploy/xsmbd.service @ONLY)
install(FILES ${CMAKE_BINARY_DIR}/deploy/xsmbd.service DESTINATION ${XSMB_SYSTEMD_UNIT_DIR}
        COMPONENT server)
# An operator's edited smb.conf survives a reinstall: the default goes in only where none is. Its
# directory follows the prefix given at install time (GNUInstallDirs' rule: /etc for /usr).
install(CODE "
  if(CMAKE_INSTALL_PREFIX STREQUAL \"/usr\")
    set(_etc /etc/xsmbd)
  else()
    set(_etc \"\${CMAKE_INSTALL_PREFIX}/etc/xsmbd\")
  endif()
  # file(INSTALL) adds DESTDIR itself; the check must add it by hand.
  if(EXISTS \"\$ENV{DESTDIR}\${_etc}/smb.conf\")
    message(STATUS \"Keeping: \$ENV{DESTDIR}\${_etc}/smb.conf\")
  else()
    file(INSTALL \"${CMAKE_BINARY_DIR}/deploy/smb.conf\" DESTINATION \"\${_etc}\"
         FILE_PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
  endif()" COMPONENT server)
install(FILES ${CMAKE_SOURCE_DIR}/README.md ${CMAKE_SOURCE_DIR}/docs/bpf.md
        ${CMAKE_SOURCE_DIR}/docs/deploy.md
        DESTINATION ${CMAKE_INSTALL_DOCDIR} COMPONENT server)
