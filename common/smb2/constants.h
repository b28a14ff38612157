// SMB2 protocol constants (MS-SMB2 2.2) and MS-FSCC values shared by the codec,
// the handlers and the VFS.
#pragma once

#include <cstddef>
#include <cstdint>

#include "common/smb2/security_constants.h"  // SECURITY_INFORMATION, SE_*, ACEs, SIDs
#include "common/smb2/smb2_wire.h"

namespace xsmb::smb2 {

// ProtocolId read as a little-endian 32-bit value (MS-SMB2 2.2.1, 2.2.41, 2.2.42; MS-SMB
// 2.2.3.1); the values, and those below, come from smb2_wire.h, which the BPF programs share.
constexpr uint32_t kProtocolId = XSMB_SMB2_PROTOCOL_ID;                    // 0xFE 'S' 'M' 'B'
constexpr uint32_t kTransformProtocolId = XSMB_TRANSFORM_PROTOCOL_ID;      // 0xFD 'S' 'M' 'B'
constexpr uint32_t kCompressionProtocolId = XSMB_COMPRESSION_PROTOCOL_ID;  // 0xFC 'S' 'M' 'B'
constexpr uint32_t kSmb1ProtocolId = XSMB_SMB1_PROTOCOL_ID;                // 0xFF 'S' 'M' 'B'
constexpr size_t kHeaderSize = XSMB_SMB2_HEADER_SIZE;

// MS-SMB2 2.2.1.2 Command: SMB2_NEGOTIATE = 0x0000 ... SMB2_OPLOCK_BREAK = 0x0012.
enum Command : uint16_t {
#define XSMB_X_COMMAND(name, value) SMB2_##name = value,
  XSMB_SMB2_COMMANDS(XSMB_X_COMMAND)
#undef XSMB_X_COMMAND
};
// Commands are 0 .. kNumCommands - 1.
constexpr uint16_t kNumCommands = XSMB_SMB2_NUM_COMMANDS;
static_assert(SMB2_OPLOCK_BREAK + 1 == kNumCommands, "kNumCommands follows the last command");

// MS-SMB2 2.2.1 Flags.
constexpr uint32_t SMB2_FLAGS_SERVER_TO_REDIR = XSMB_SMB2_FLAGS_SERVER_TO_REDIR;
constexpr uint32_t SMB2_FLAGS_ASYNC_COMMAND = XSMB_SMB2_FLAGS_ASYNC_COMMAND;
constexpr uint32_t SMB2_FLAGS_RELATED_OPERATIONS = XSMB_SMB2_FLAGS_RELATED_OPERATIONS;
constexpr uint32_t SMB2_FLAGS_SIGNED = XSMB_SMB2_FLAGS_SIGNED;
constexpr uint32_t SMB2_FLAGS_PRIORITY_MASK = XSMB_SMB2_FLAGS_PRIORITY_MASK;
constexpr uint32_t SMB2_FLAGS_DFS_OPERATIONS = XSMB_SMB2_FLAGS_DFS_OPERATIONS;
constexpr uint32_t SMB2_FLAGS_REPLAY_OPERATION = XSMB_SMB2_FLAGS_REPLAY_OPERATION;

// MS-SMB2 2.2.3 Dialects.
enum Dialect : uint16_t {
  SMB2_DIALECT_NONE = 0,
  SMB2_DIALECT_202 = 0x0202,
  SMB2_DIALECT_210 = 0x0210,
  SMB2_DIALECT_300 = 0x0300,
  SMB2_DIALECT_302 = 0x0302,
  SMB2_DIALECT_311 = 0x0311,
  SMB2_DIALECT_WILDCARD = 0x02FF,
};

// MS-SMB2 2.2.3 SecurityMode.
constexpr uint16_t SMB2_NEGOTIATE_SIGNING_ENABLED = 0x0001;
constexpr uint16_t SMB2_NEGOTIATE_SIGNING_REQUIRED = 0x0002;

// MS-SMB2 2.2.3 Capabilities.
constexpr uint32_t SMB2_GLOBAL_CAP_DFS = 0x00000001;
constexpr uint32_t SMB2_GLOBAL_CAP_LEASING = 0x00000002;
constexpr uint32_t SMB2_GLOBAL_CAP_LARGE_MTU = 0x00000004;
constexpr uint32_t SMB2_GLOBAL_CAP_MULTI_CHANNEL = 0x00000008;
constexpr uint32_t SMB2_GLOBAL_CAP_PERSISTENT_HANDLES = 0x00000010;
constexpr uint32_t SMB2_GLOBAL_CAP_DIRECTORY_LEASING = 0x00000020;
constexpr uint32_t SMB2_GLOBAL_CAP_ENCRYPTION = 0x00000040;

// MS-SMB2 2.2.3.1 negotiate context types.
constexpr uint16_t SMB2_PREAUTH_INTEGRITY_CAPABILITIES = 0x0001;
constexpr uint16_t SMB2_ENCRYPTION_CAPABILITIES = 0x0002;
constexpr uint16_t SMB2_COMPRESSION_CAPABILITIES = 0x0003;
constexpr uint16_t SMB2_NETNAME_NEGOTIATE_CONTEXT_ID = 0x0005;
constexpr uint16_t SMB2_TRANSPORT_CAPABILITIES = 0x0006;
// SMB2_TRANSPORT_CAPABILITIES Flags (MS-SMB2 2.2.3.1.5, 2.2.4.1.5).
constexpr uint32_t SMB2_ACCEPT_TRANSPORT_LEVEL_SECURITY = 0x00000001;
constexpr uint16_t SMB2_RDMA_TRANSFORM_CAPABILITIES = 0x0007;
constexpr uint16_t SMB2_SIGNING_CAPABILITIES = 0x0008;
constexpr uint16_t SMB2_PREAUTH_HASH_SHA512 = 0x0001;
// MS-SMB2 2.2.3.1.7 SigningAlgorithmId.
constexpr uint16_t SMB2_SIGNING_HMAC_SHA256 = 0x0000;
constexpr uint16_t SMB2_SIGNING_AES_CMAC = 0x0001;
constexpr uint16_t SMB2_SIGNING_AES_GMAC = 0x0002;
// MS-SMB2 2.2.3.1.2 Ciphers.
constexpr uint16_t SMB2_ENCRYPTION_AES128_CCM = 0x0001;
constexpr uint16_t SMB2_ENCRYPTION_AES128_GCM = 0x0002;
constexpr uint16_t SMB2_ENCRYPTION_AES256_CCM = 0x0003;
constexpr uint16_t SMB2_ENCRYPTION_AES256_GCM = 0x0004;

// MS-SMB2 2.2.5 SESSION_SETUP request Flags / 2.2.6 SessionFlags.
constexpr uint8_t SMB2_SESSION_FLAG_BINDING = 0x01;
constexpr uint16_t SMB2_SESSION_FLAG_IS_GUEST = 0x0001;
constexpr uint16_t SMB2_SESSION_FLAG_IS_NULL = 0x0002;
constexpr uint16_t SMB2_SESSION_FLAG_ENCRYPT_DATA = 0x0004;

// MS-SMB2 2.2.10 TREE_CONNECT response.
constexpr uint8_t SMB2_SHARE_TYPE_DISK = 0x01;
constexpr uint8_t SMB2_SHARE_TYPE_PIPE = 0x02;
constexpr uint32_t SMB2_SHAREFLAG_MANUAL_CACHING = 0x00000000;
constexpr uint32_t SMB2_SHAREFLAG_NO_CACHING = 0x00000030;
constexpr uint32_t SMB2_SHARE_CAP_DFS = 0x00000008;
constexpr uint32_t SMB2_SHAREFLAG_ENCRYPT_DATA = 0x00008000;

// MS-SMB2 2.2.13 CREATE.
constexpr uint8_t SMB2_OPLOCK_LEVEL_NONE = 0x00;
constexpr uint8_t SMB2_OPLOCK_LEVEL_II = 0x01;
constexpr uint8_t SMB2_OPLOCK_LEVEL_EXCLUSIVE = 0x08;
constexpr uint8_t SMB2_OPLOCK_LEVEL_BATCH = 0x09;
constexpr uint8_t SMB2_OPLOCK_LEVEL_LEASE = 0xFF;

constexpr uint32_t FILE_SHARE_READ = 0x1;
constexpr uint32_t FILE_SHARE_WRITE = 0x2;
constexpr uint32_t FILE_SHARE_DELETE = 0x4;

// CreateDisposition.
constexpr uint32_t FILE_SUPERSEDE = 0;
constexpr uint32_t FILE_OPEN = 1;
constexpr uint32_t FILE_CREATE = 2;
constexpr uint32_t FILE_OPEN_IF = 3;
constexpr uint32_t FILE_OVERWRITE = 4;
constexpr uint32_t FILE_OVERWRITE_IF = 5;

// CreateOptions.
constexpr uint32_t FILE_DIRECTORY_FILE = 0x00000001;
constexpr uint32_t FILE_WRITE_THROUGH = 0x00000002;
constexpr uint32_t FILE_SEQUENTIAL_ONLY = 0x00000004;
constexpr uint32_t FILE_NO_INTERMEDIATE_BUFFERING = 0x00000008;
constexpr uint32_t FILE_SYNCHRONOUS_IO_ALERT = 0x00000010;
constexpr uint32_t FILE_SYNCHRONOUS_IO_NONALERT = 0x00000020;
constexpr uint32_t FILE_NON_DIRECTORY_FILE = 0x00000040;
constexpr uint32_t FILE_COMPLETE_IF_OPLOCKED = 0x00000100;
constexpr uint32_t FILE_NO_EA_KNOWLEDGE = 0x00000200;
constexpr uint32_t FILE_RANDOM_ACCESS = 0x00000800;
constexpr uint32_t FILE_DELETE_ON_CLOSE = 0x00001000;
constexpr uint32_t FILE_OPEN_BY_FILE_ID = 0x00002000;
constexpr uint32_t FILE_OPEN_FOR_BACKUP_INTENT = 0x00004000;
constexpr uint32_t FILE_NO_COMPRESSION = 0x00008000;
constexpr uint32_t FILE_OPEN_REPARSE_POINT = 0x00200000;
constexpr uint32_t FILE_OPEN_NO_RECALL = 0x00400000;
constexpr uint32_t FILE_RESERVE_OPFILTER = 0x00100000;
constexpr uint32_t FILE_OPEN_REQUIRING_OPLOCK = 0x00010000;

// CreateAction (MS-SMB2 2.2.14).
constexpr uint32_t FILE_SUPERSEDED = 0;
constexpr uint32_t FILE_OPENED = 1;
constexpr uint32_t FILE_CREATED = 2;
constexpr uint32_t FILE_OVERWRITTEN = 3;

// Access mask (MS-SMB2 2.2.13.1.1, MS-DTYP 2.4.3).
constexpr uint32_t FILE_READ_DATA = 0x00000001;
constexpr uint32_t FILE_LIST_DIRECTORY = 0x00000001;
constexpr uint32_t FILE_WRITE_DATA = 0x00000002;
constexpr uint32_t FILE_ADD_FILE = 0x00000002;
constexpr uint32_t FILE_APPEND_DATA = 0x00000004;
constexpr uint32_t FILE_ADD_SUBDIRECTORY = 0x00000004;
constexpr uint32_t FILE_READ_EA = 0x00000008;
constexpr uint32_t FILE_WRITE_EA = 0x00000010;
constexpr uint32_t FILE_EXECUTE = 0x00000020;
constexpr uint32_t FILE_TRAVERSE = 0x00000020;
constexpr uint32_t FILE_DELETE_CHILD = 0x00000040;
constexpr uint32_t FILE_READ_ATTRIBUTES = 0x00000080;
constexpr uint32_t FILE_WRITE_ATTRIBUTES = 0x00000100;
constexpr uint32_t DELETE = 0x00010000;
constexpr uint32_t READ_CONTROL = 0x00020000;
constexpr uint32_t WRITE_DAC = 0x00040000;
constexpr uint32_t WRITE_OWNER = 0x00080000;
constexpr uint32_t SYNCHRONIZE = 0x00100000;
constexpr uint32_t ACCESS_SYSTEM_SECURITY = 0x01000000;
constexpr uint32_t MAXIMUM_ALLOWED = 0x02000000;
constexpr uint32_t GENERIC_ALL = 0x10000000;
constexpr uint32_t GENERIC_EXECUTE = 0x20000000;
constexpr uint32_t GENERIC_WRITE = 0x40000000;
constexpr uint32_t GENERIC_READ = 0x80000000;
constexpr uint32_t FILE_ALL_ACCESS = 0x001F01FF;
constexpr uint32_t FILE_GENERIC_READ = 0x00120089;
constexpr uint32_t FILE_GENERIC_WRITE = 0x00120116;
constexpr uint32_t FILE_GENERIC_EXECUTE = 0x001200A0;

// File attributes (MS-FSCC 2.6).
constexpr uint32_t FILE_ATTRIBUTE_READONLY = 0x00000001;
constexpr uint32_t FILE_ATTRIBUTE_HIDDEN = 0x00000002;
constexpr uint32_t FILE_ATTRIBUTE_SYSTEM = 0x00000004;
constexpr uint32_t FILE_ATTRIBUTE_DIRECTORY = 0x00000010;
constexpr uint32_t FILE_ATTRIBUTE_ARCHIVE = 0x00000020;
constexpr uint32_t FILE_ATTRIBUTE_NORMAL = 0x00000080;
constexpr uint32_t FILE_ATTRIBUTE_TEMPORARY = 0x00000100;
constexpr uint32_t FILE_ATTRIBUTE_SPARSE_FILE = 0x00000200;
constexpr uint32_t FILE_ATTRIBUTE_REPARSE_POINT = 0x00000400;
constexpr uint32_t FILE_ATTRIBUTE_COMPRESSED = 0x00000800;
constexpr uint32_t FILE_ATTRIBUTE_OFFLINE = 0x00001000;
constexpr uint32_t FILE_ATTRIBUTE_NOT_CONTENT_INDEXED = 0x00002000;
constexpr uint32_t FILE_ATTRIBUTE_ENCRYPTED = 0x00004000;

// MS-SMB2 2.2.37 QUERY_INFO InfoType.
constexpr uint8_t SMB2_0_INFO_FILE = 0x01;
constexpr uint8_t SMB2_0_INFO_FILESYSTEM = 0x02;
constexpr uint8_t SMB2_0_INFO_SECURITY = 0x03;
constexpr uint8_t SMB2_0_INFO_QUOTA = 0x04;

// MS-FSCC 2.4 file information classes.
enum FileInformationClass : uint8_t {
  FileDirectoryInformation = 1,
  FileFullDirectoryInformation = 2,
  FileBothDirectoryInformation = 3,
  FileBasicInformation = 4,
  FileStandardInformation = 5,
  FileInternalInformation = 6,
  FileEaInformation = 7,
  FileAccessInformation = 8,
  FileNameInformation = 9,
  FileRenameInformation = 10,
  FileLinkInformation = 11,
  FileNamesInformation = 12,
  FileDispositionInformation = 13,
  FilePositionInformation = 14,
  FileFullEaInformation = 15,
  FileModeInformation = 16,
  FileAlignmentInformation = 17,
  FileAllInformation = 18,
  FileAllocationInformation = 19,
  FileEndOfFileInformation = 20,
  FileAlternateNameInformation = 21,
  FileStreamInformation = 22,
  FilePipeInformation = 23,
  FilePipeLocalInformation = 24,
  FilePipeRemoteInformation = 25,
  FileCompressionInformation = 28,
  FileObjectIdInformation = 29,
  FileQuotaInformation = 32,
  FileReparsePointInformation = 33,
  FileNetworkOpenInformation = 34,
  FileAttributeTagInformation = 35,
  FileIdBothDirectoryInformation = 37,
  FileIdFullDirectoryInformation = 38,
  FileValidDataLengthInformation = 39,
  FileShortNameInformation = 40,
  FileNormalizedNameInformation = 48,
  FileIdInformation = 59,
  FileIdExtdDirectoryInformation = 60,
  FileDispositionInformationEx = 64,
  FileRenameInformationEx = 65,
};

// MS-FSCC 2.5 file system information classes.
enum FsInformationClass : uint8_t {
  FileFsVolumeInformation = 1,
  FileFsLabelInformation = 2,
  FileFsSizeInformation = 3,
  FileFsDeviceInformation = 4,
  FileFsAttributeInformation = 5,
  FileFsControlInformation = 6,
  FileFsFullSizeInformation = 7,
  FileFsObjectIdInformation = 8,
  FileFsDriverPathInformation = 9,
  FileFsVolumeFlagsInformation = 10,
  FileFsSectorSizeInformation = 11,
};

// MS-SMB2 2.2.33 QUERY_DIRECTORY Flags.
constexpr uint8_t SMB2_RESTART_SCANS = 0x01;
constexpr uint8_t SMB2_RETURN_SINGLE_ENTRY = 0x02;
constexpr uint8_t SMB2_INDEX_SPECIFIED = 0x04;
constexpr uint8_t SMB2_REOPEN = 0x10;

// MS-SMB2 2.2.15 CLOSE Flags.
constexpr uint16_t SMB2_CLOSE_FLAG_POSTQUERY_ATTRIB = 0x0001;

// MS-FSCC 2.3 FSCTL codes used here.
constexpr uint32_t FSCTL_DFS_GET_REFERRALS = 0x00060194;
constexpr uint32_t FSCTL_DFS_GET_REFERRALS_EX = 0x000601B0;
constexpr uint32_t FSCTL_PIPE_TRANSCEIVE = 0x0011C017;
constexpr uint32_t FSCTL_VALIDATE_NEGOTIATE_INFO = 0x00140204;
constexpr uint32_t FSCTL_QUERY_NETWORK_INTERFACE_INFO = 0x001401FC;
constexpr uint32_t FSCTL_LMR_REQUEST_RESILIENCY = 0x001401D4;  // MS-SMB2 2.2.31
constexpr uint32_t FSCTL_GET_REPARSE_POINT = 0x000900A8;
constexpr uint32_t FSCTL_CREATE_OR_GET_OBJECT_ID = 0x000900C0;
constexpr uint32_t FSCTL_SRV_REQUEST_RESUME_KEY = 0x00140078;
constexpr uint32_t FSCTL_SRV_COPYCHUNK = 0x001440F2;
constexpr uint32_t FSCTL_SRV_COPYCHUNK_WRITE = 0x001480F2;
constexpr uint32_t FSCTL_SET_SPARSE = 0x000900C4;
constexpr uint32_t FSCTL_SET_ZERO_DATA = 0x000980C8;
constexpr uint32_t FSCTL_QUERY_ALLOCATED_RANGES = 0x000940CF;
constexpr uint32_t FSCTL_DUPLICATE_EXTENTS_TO_FILE = 0x00098344;
constexpr uint32_t FSCTL_GET_COMPRESSION = 0x0009003C;  // MS-FSCC 2.3.18
constexpr uint32_t FSCTL_SET_COMPRESSION = 0x0009C040;  // MS-FSCC 2.3.65
constexpr uint16_t COMPRESSION_FORMAT_NONE = 0x0000;    // MS-FSCC 2.3.19 CompressionState
constexpr uint32_t SMB2_0_IOCTL_IS_FSCTL = 0x00000001;

}  // namespace xsmb::smb2
