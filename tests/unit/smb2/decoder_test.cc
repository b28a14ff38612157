// What every request decoder has in common. Each command family has its own file:
// decoder_session_test.cc (NEGOTIATE, SESSION_SETUP, TREE_CONNECT, empty bodies),
// decoder_create_test.cc (CREATE, CLOSE, FLUSH, OPLOCK_BREAK), decoder_io_test.cc (READ, WRITE,
// LOCK, IOCTL) and decoder_info_test.cc (QUERY_DIRECTORY, CHANGE_NOTIFY, QUERY_INFO, SET_INFO).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/smb2/constants.h"
#include "common/smb2/messages.h"
#include "tests/unit/smb2/packet_builder.h"
#include "tests/unit/smb2/test_util.h"

namespace xsmb::smb2 {
namespace {

using testing::Smb2Msg;

// Every decoder refuses a message that is only a header (or less).
TEST(DecoderTest, HeaderOnlyMessagesFail) {
  for (size_t n : {0, 1, 63, 64, 65}) {
    Bytes msg = Smb2Msg(SMB2_ECHO).bytes();
    msg.resize(n, 0);
    SCOPED_TRACE(n);
    NegotiateRequest neg;
    SessionSetupRequest ss;
    TreeConnectRequest tc;
    CreateRequest cr;
    CloseRequest cl;
    FileId fid;
    ReadRequest rd;
    WriteRequest wr;
    LockRequest lk;
    IoctlRequest io;
    QueryDirectoryRequest qd;
    ChangeNotifyRequest cn;
    QueryInfoRequest qi;
    SetInfoRequest si;
    uint8_t level;
    EXPECT_EQ(decodeNegotiateRequest(msg, &neg), STATUS_INVALID_PARAMETER);
    EXPECT_EQ(decodeSessionSetupRequest(msg, &ss), STATUS_INVALID_PARAMETER);
    EXPECT_EQ(decodeTreeConnectRequest(msg, &tc), STATUS_INVALID_PARAMETER);
    EXPECT_EQ(decodeCreateRequest(msg, &cr), STATUS_INVALID_PARAMETER);
    EXPECT_EQ(decodeCloseRequest(msg, &cl), STATUS_INVALID_PARAMETER);
    EXPECT_EQ(decodeFlushRequest(msg, &fid), STATUS_INVALID_PARAMETER);
    EXPECT_EQ(decodeReadRequest(msg, &rd), STATUS_INVALID_PARAMETER);
    EXPECT_EQ(decodeWriteRequest(msg, &wr), STATUS_INVALID_PARAMETER);
    EXPECT_EQ(decodeLockRequest(msg, &lk), STATUS_INVALID_PARAMETER);
    EXPECT_EQ(decodeIoctlRequest(msg, &io), STATUS_INVALID_PARAMETER);
    EXPECT_EQ(decodeQueryDirectoryRequest(msg, &qd), STATUS_INVALID_PARAMETER);
    EXPECT_EQ(decodeChangeNotifyRequest(msg, &cn), STATUS_INVALID_PARAMETER);
    EXPECT_EQ(decodeQueryInfoRequest(msg, &qi), STATUS_INVALID_PARAMETER);
    EXPECT_EQ(decodeSetInfoRequest(msg, &si), STATUS_INVALID_PARAMETER);
    EXPECT_EQ(decodeEmptyRequest(msg, 4), STATUS_INVALID_PARAMETER);
    EXPECT_EQ(decodeOplockBreakAck(msg, &level, &fid), STATUS_INVALID_PARAMETER);
  }
}

}  // namespace
}  // namespace xsmb::smb2
