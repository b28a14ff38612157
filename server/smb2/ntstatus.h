// NTSTATUS values used by xsmbd, by their MS-ERREF 2.3.1 names.
#pragma once

#include <cstdint>
#include <string_view>

namespace xsmb {

#define XSMB_NTSTATUS_LIST(X)                              \
  X(STATUS_SUCCESS, 0x00000000)                            \
  X(STATUS_PENDING, 0x00000103)                            \
  X(STATUS_NOTIFY_ENUM_DIR, 0x0000010C)                    \
  X(STATUS_BUFFER_OVERFLOW, 0x80000005)                    \
  X(STATUS_NO_MORE_FILES, 0x80000006)                      \
  X(STATUS_UNSUCCESSFUL, 0xC0000001)                       \
  X(STATUS_NOT_IMPLEMENTED, 0xC0000002)                    \
  X(STATUS_INVALID_INFO_CLASS, 0xC0000003)                 \
  X(STATUS_INFO_LENGTH_MISMATCH, 0xC0000004)               \
  X(STATUS_INVALID_HANDLE, 0xC0000008)                     \
  X(STATUS_INVALID_PARAMETER, 0xC000000D)                  \
  X(STATUS_NO_SUCH_DEVICE, 0xC000000E)                     \
  X(STATUS_NO_SUCH_FILE, 0xC000000F)                       \
  X(STATUS_INVALID_DEVICE_REQUEST, 0xC0000010)             \
  X(STATUS_END_OF_FILE, 0xC0000011)                        \
  X(STATUS_MORE_PROCESSING_REQUIRED, 0xC0000016)           \
  X(STATUS_NO_MEMORY, 0xC0000017)                          \
  X(STATUS_ACCESS_DENIED, 0xC0000022)                      \
  X(STATUS_BUFFER_TOO_SMALL, 0xC0000023)                   \
  X(STATUS_OBJECT_NAME_INVALID, 0xC0000033)                \
  X(STATUS_OBJECT_NAME_NOT_FOUND, 0xC0000034)              \
  X(STATUS_OBJECT_NAME_COLLISION, 0xC0000035)              \
  X(STATUS_OBJECT_PATH_INVALID, 0xC0000039)                \
  X(STATUS_OBJECT_PATH_NOT_FOUND, 0xC000003A)              \
  X(STATUS_OBJECT_PATH_SYNTAX_BAD, 0xC000003B)             \
  X(STATUS_DATA_ERROR, 0xC000003E)                         \
  X(STATUS_SHARING_VIOLATION, 0xC0000043)                  \
  X(STATUS_EAS_NOT_SUPPORTED, 0xC000004F)                  \
  X(STATUS_DELETE_PENDING, 0xC0000056)                     \
  X(STATUS_PRIVILEGE_NOT_HELD, 0xC0000061)                 \
  X(STATUS_WRONG_PASSWORD, 0xC000006A)                     \
  X(STATUS_LOGON_FAILURE, 0xC000006D)                      \
  X(STATUS_ACCOUNT_RESTRICTION, 0xC000006E)                \
  X(STATUS_DISK_FULL, 0xC000007F)                          \
  X(STATUS_INSUFFICIENT_RESOURCES, 0xC000009A)             \
  X(STATUS_FILE_IS_A_DIRECTORY, 0xC00000BA)                \
  X(STATUS_NOT_SUPPORTED, 0xC00000BB)                      \
  X(STATUS_NETWORK_NAME_DELETED, 0xC00000C9)               \
  X(STATUS_BAD_NETWORK_NAME, 0xC00000CC)                   \
  X(STATUS_REQUEST_NOT_ACCEPTED, 0xC00000D0)               \
  X(STATUS_INTERNAL_ERROR, 0xC00000E5)                     \
  X(STATUS_DIRECTORY_NOT_EMPTY, 0xC0000101)                \
  X(STATUS_NOT_A_DIRECTORY, 0xC0000103)                    \
  X(STATUS_CANCELLED, 0xC0000120)                          \
  X(STATUS_CANNOT_DELETE, 0xC0000121)                      \
  X(STATUS_FILE_CLOSED, 0xC0000128)                        \
  X(STATUS_INVALID_LEVEL, 0xC0000148)                      \
  X(STATUS_NAME_TOO_LONG, 0xC0000106)                      \
  X(STATUS_TOO_MANY_OPENED_FILES, 0xC000011F)              \
  X(STATUS_FILE_INVALID, 0xC0000098)                       \
  X(STATUS_NOT_SAME_DEVICE, 0xC00000D4)                    \
  X(STATUS_LOCK_NOT_GRANTED, 0xC0000055)                   \
  X(STATUS_RANGE_NOT_LOCKED, 0xC000007E)                   \
  X(STATUS_USER_SESSION_DELETED, 0xC0000203)               \
  X(STATUS_NETWORK_SESSION_EXPIRED, 0xC000035C)            \
  X(STATUS_FS_DRIVER_REQUIRED, 0xC000019C)                 \
  X(STATUS_NOT_FOUND, 0xC0000225)                          \
  X(STATUS_STOPPED_ON_SYMLINK, 0x8000002D)                 \
  X(STATUS_IO_REPARSE_TAG_NOT_HANDLED, 0xC0000279)         \
  X(STATUS_NETWORK_ACCESS_DENIED, 0xC00000CA)              \
  X(STATUS_MEDIA_WRITE_PROTECTED, 0xC00000A2)              \
  X(STATUS_INVALID_NETWORK_RESPONSE, 0xC00000C3)           \
  X(STATUS_FILE_NOT_AVAILABLE, 0xC0000467)                 \
  X(STATUS_OBJECTID_NOT_FOUND, 0xC00002F0)                 \
  X(STATUS_NO_EAS_ON_FILE, 0xC0000052)                     \
  X(STATUS_DUPLICATE_OBJECTID, 0xC000022A)                 \
  X(STATUS_INVALID_SECURITY_DESCR, 0xC0000079)             \
  X(STATUS_USER_EXISTS, 0xC0000063)                        \
  X(STATUS_NO_SUCH_USER, 0xC0000064)                       \
  X(STATUS_NOT_A_REPARSE_POINT, 0xC0000275)                \
  X(STATUS_FILE_SYSTEM_LIMITATION, 0xC0000427)             \
  X(STATUS_BAD_IMPERSONATION_LEVEL, 0xC00000A5)            \
  X(STATUS_INVALID_DEVICE_STATE, 0xC0000184)               \
  X(STATUS_DFS_UNAVAILABLE, 0xC000026D)                    \
  X(STATUS_CONNECTION_DISCONNECTED, 0xC000020C)            \
  X(STATUS_INVALID_LOCK_RANGE, 0xC00001A1)                 \
  X(STATUS_FILE_LOCK_CONFLICT, 0xC0000054)                 \
  X(STATUS_INVALID_OPLOCK_PROTOCOL, 0xC00000E3)            \
  X(STATUS_INVALID_SMB, 0x00010002)

enum NtStatus : uint32_t {
#define XSMB_NTSTATUS_ENUM(name, value) name = value,
  XSMB_NTSTATUS_LIST(XSMB_NTSTATUS_ENUM)
#undef XSMB_NTSTATUS_ENUM
};

// The MS-ERREF name of `s`, or "STATUS_UNKNOWN" for a value not in the list.
constexpr std::string_view ntStatusName(uint32_t s) {
  switch (s) {
#define XSMB_NTSTATUS_CASE(name, value) \
  case value:                           \
    return #name;
    XSMB_NTSTATUS_LIST(XSMB_NTSTATUS_CASE)
#undef XSMB_NTSTATUS_CASE
  }
  return "STATUS_UNKNOWN";
}

// True for the error severity (high two bits 11).
constexpr bool ntIsError(uint32_t s) { return (s >> 30) == 3; }

}  // namespace xsmb
