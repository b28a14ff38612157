// Loads binary fixtures from tests/unit/auth/testdata (SMB2 messages and security blobs
// extracted from /work/shared/captures with tshark).
#pragma once

#include <fstream>
#include <iterator>
#include <string>

#include "common/base/bytes.h"

namespace xsmb::testing {

inline Bytes loadTestdata(const std::string& name) {
  std::ifstream f(std::string(XSMB_AUTH_TESTDATA) + "/" + name, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

}  // namespace xsmb::testing
