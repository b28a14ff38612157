/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * smb2_wire.h - the SMB2 wire values the BPF programs (clang -target bpf) and the C++ codec
 * both use, defined once: ProtocolIds, command numbers, header flags, the header layout, the
 * TRANSFORM header layout, the NTSTATUS values BPF reads, and the NetBIOS session framing.
 * Plain C preprocessor constants (no includes, no types), so that any C or C++ file can
 * include it; common/smb2/constants.h, header.h, netbios.h, ntstatus.h and
 * common/crypto/transform.h give them typed C++ names.
 *
 * The XSMB_ prefix keeps these macros apart from the C++ names of the same values
 * (smb2::SMB2_FLAGS_SIGNED, smb2::SMB2_READ, STATUS_PENDING), which they would otherwise
 * replace. Offsets are in bytes from the start of their header; fields are little-endian
 * (MS-SMB2 2.2), except the NetBIOS length, which is big-endian (RFC 1002 4.3.1).
 */
#ifndef XSMB_SMB2_WIRE_H
#define XSMB_SMB2_WIRE_H

/* ---- ProtocolId: one byte, then 'S' 'M' 'B' (MS-SMB2 2.2.1, 2.2.41, 2.2.42; MS-SMB 2.2.3.1) */
#define XSMB_PROTO_SMB2 0xfe       /* SMB2 packet header */
#define XSMB_PROTO_TRANSFORM 0xfd  /* SMB2 TRANSFORM_HEADER (encrypted message) */
#define XSMB_PROTO_COMPRESSED 0xfc /* SMB2 COMPRESSION_TRANSFORM_HEADER */
#define XSMB_PROTO_SMB1 0xff       /* SMB1 header (a multi-protocol NEGOTIATE) */
/* The 4-byte ProtocolId read as a little-endian 32-bit value, e.g. 0x424D53FE. */
#define XSMB_PROTOCOL_ID(first) (0x424d5300u | (first))
#define XSMB_SMB2_PROTOCOL_ID XSMB_PROTOCOL_ID(XSMB_PROTO_SMB2)
#define XSMB_TRANSFORM_PROTOCOL_ID XSMB_PROTOCOL_ID(XSMB_PROTO_TRANSFORM)
#define XSMB_COMPRESSION_PROTOCOL_ID XSMB_PROTOCOL_ID(XSMB_PROTO_COMPRESSED)
#define XSMB_SMB1_PROTOCOL_ID XSMB_PROTOCOL_ID(XSMB_PROTO_SMB1)

/* ---- Command (MS-SMB2 2.2.1.2), as X(name, value); name without the SMB2_ prefix. */
#define XSMB_SMB2_COMMANDS(X) \
  X(NEGOTIATE, 0x0000)        \
  X(SESSION_SETUP, 0x0001)    \
  X(LOGOFF, 0x0002)           \
  X(TREE_CONNECT, 0x0003)     \
  X(TREE_DISCONNECT, 0x0004)  \
  X(CREATE, 0x0005)           \
  X(CLOSE, 0x0006)            \
  X(FLUSH, 0x0007)            \
  X(READ, 0x0008)             \
  X(WRITE, 0x0009)            \
  X(LOCK, 0x000a)             \
  X(IOCTL, 0x000b)            \
  X(CANCEL, 0x000c)           \
  X(ECHO, 0x000d)             \
  X(QUERY_DIRECTORY, 0x000e)  \
  X(CHANGE_NOTIFY, 0x000f)    \
  X(QUERY_INFO, 0x0010)       \
  X(SET_INFO, 0x0011)         \
  X(OPLOCK_BREAK, 0x0012)
/* Commands are 0 .. XSMB_SMB2_NUM_COMMANDS - 1; a larger value is not a valid command. */
#define XSMB_SMB2_NUM_COMMANDS 0x0013

/* ---- Flags (MS-SMB2 2.2.1.1 / 2.2.1.2) */
#define XSMB_SMB2_FLAGS_SERVER_TO_REDIR 0x00000001u
#define XSMB_SMB2_FLAGS_ASYNC_COMMAND 0x00000002u
#define XSMB_SMB2_FLAGS_RELATED_OPERATIONS 0x00000004u
#define XSMB_SMB2_FLAGS_SIGNED 0x00000008u
#define XSMB_SMB2_FLAGS_PRIORITY_MASK 0x00000070u
#define XSMB_SMB2_FLAGS_DFS_OPERATIONS 0x10000000u
#define XSMB_SMB2_FLAGS_REPLAY_OPERATION 0x20000000u

/* ---- SMB2 packet header (MS-SMB2 2.2.1): 64 bytes, StructureSize 64 */
#define XSMB_SMB2_HEADER_SIZE 64
#define XSMB_SMB2_OFF_PROTOCOL_ID 0
#define XSMB_SMB2_OFF_STRUCTURE_SIZE 4 /* 2 bytes, always 64 */
#define XSMB_SMB2_OFF_CREDIT_CHARGE 6  /* 2 bytes */
#define XSMB_SMB2_OFF_STATUS 8         /* 4 bytes; requests: ChannelSequence/Reserved */
#define XSMB_SMB2_OFF_COMMAND 12       /* 2 bytes */
#define XSMB_SMB2_OFF_CREDITS 14       /* 2 bytes: CreditRequest / CreditResponse */
#define XSMB_SMB2_OFF_FLAGS 16         /* 4 bytes */
#define XSMB_SMB2_OFF_NEXT_COMMAND 20  /* 4 bytes */
#define XSMB_SMB2_OFF_MESSAGE_ID 24    /* 8 bytes */
#define XSMB_SMB2_OFF_ASYNC_ID 32      /* 8 bytes, async form (SMB2_FLAGS_ASYNC_COMMAND) */
#define XSMB_SMB2_OFF_PROCESS_ID 32    /* 4 bytes, sync form (Reserved) */
#define XSMB_SMB2_OFF_TREE_ID 36       /* 4 bytes, sync form */
#define XSMB_SMB2_OFF_SESSION_ID 40    /* 8 bytes */
#define XSMB_SMB2_OFF_SIGNATURE 48     /* XSMB_SMB2_SIGNATURE_SIZE bytes */
#define XSMB_SMB2_SIGNATURE_SIZE 16
/* NextCommand of a compound element is a multiple of 8 (MS-SMB2 3.2.4.1.4, 3.3.5.2.7). */
#define XSMB_SMB2_COMPOUND_ALIGN 8

/* ---- SMB2 TRANSFORM_HEADER (MS-SMB2 2.2.41): 52 bytes before the encrypted message */
#define XSMB_TRANSFORM_HEADER_SIZE 52
#define XSMB_TRANSFORM_OFF_SIGNATURE 4      /* 16 bytes: the AEAD tag */
#define XSMB_TRANSFORM_OFF_NONCE 20         /* 16 bytes */
#define XSMB_TRANSFORM_OFF_ORIGINAL_SIZE 36 /* 4 bytes: OriginalMessageSize */
#define XSMB_TRANSFORM_OFF_FLAGS 42         /* 2 bytes: Flags / EncryptionAlgorithm */
#define XSMB_TRANSFORM_OFF_SESSION_ID 44    /* 8 bytes */
#define XSMB_TRANSFORM_FLAG_ENCRYPTED 0x0001

/* ---- NTSTATUS values the BPF programs read (MS-ERREF 2.3.1); C++ has them all in ntstatus.h */
#define XSMB_STATUS_PENDING 0x00000103u /* interim response of an async request (3.3.4.2) */

/* ---- Direct TCP / NetBIOS session service framing (MS-SMB2 2.1, RFC 1002 4.3.1): a type
 * byte, then a 24-bit big-endian length of the payload that follows. */
#define XSMB_NETBIOS_HEADER_SIZE 4
#define XSMB_NETBIOS_MAX_LENGTH 0x00ffffffu
#define XSMB_NETBIOS_SESSION_MESSAGE 0x00 /* carries one SMB message */
#define XSMB_NETBIOS_SESSION_REQUEST 0x81 /* 0x81 .. 0x85: session service packets */
#define XSMB_NETBIOS_POSITIVE_RESPONSE 0x82
#define XSMB_NETBIOS_NEGATIVE_RESPONSE 0x83
#define XSMB_NETBIOS_RETARGET_RESPONSE 0x84
#define XSMB_NETBIOS_KEEP_ALIVE 0x85

#endif /* XSMB_SMB2_WIRE_H */
