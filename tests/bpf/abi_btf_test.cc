// Unprivileged: the skeletons open without loading, and every struct of xsmb_abi.h has the
// same size and member offsets in the BTF of each compiled object as in C++.
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <gtest/gtest.h>

#include <cstddef>
#include <string>
#include <vector>

#include "loader/objects.h"
#include "xsmb_abi.h"
#include "xsmb_quic.h"
#include "xsmb_quic.skel.h"

namespace xsmb::bpf {
namespace {

struct Member {
  const char* name;
  size_t offset;
};
struct Layout {
  const char* name;
  size_t size;
  std::vector<Member> members;
};

#define M(type, field) \
  Member { #field, offsetof(type, field) }

std::vector<Layout> Layouts() {
  return {
      {"xsmb_config",
       sizeof(xsmb_config),
       {M(xsmb_config, ports), M(xsmb_config, syn_rate), M(xsmb_config, syn_burst),
        M(xsmb_config, max_msg_size), M(xsmb_config, flags), M(xsmb_config, nworkers)}},
      {"xsmb_conn_key",
       sizeof(xsmb_conn_key),
       {M(xsmb_conn_key, client), M(xsmb_conn_key, server), M(xsmb_conn_key, client_port),
        M(xsmb_conn_key, server_port), M(xsmb_conn_key, dir)}},
      {"xsmb_session",
       sizeof(xsmb_session),
       {M(xsmb_session, uid), M(xsmb_session, dialect), M(xsmb_session, signing),
        M(xsmb_session, encryption), M(xsmb_session, home_cpu), M(xsmb_session, last_seen_ns),
        M(xsmb_session, ops), M(xsmb_session, bytes), M(xsmb_session, sk_messages),
        M(xsmb_session, rate_bps), M(xsmb_session, throttled_ns)}},
      {"xsmb_cmd_stat", sizeof(xsmb_cmd_stat), {M(xsmb_cmd_stat, msgs), M(xsmb_cmd_stat, bytes)}},
      {"xsmb_source",
       sizeof(xsmb_source),
       {M(xsmb_source, tokens_milli), M(xsmb_source, last_ns), M(xsmb_source, syns),
        M(xsmb_source, drops)}},
      {"xsmb_lpm_key", sizeof(xsmb_lpm_key), {M(xsmb_lpm_key, prefixlen), M(xsmb_lpm_key, addr)}},
      {"xsmb_block", sizeof(xsmb_block), {M(xsmb_block, drops)}},
      {"xsmb_inflight_key",
       sizeof(xsmb_inflight_key),
       {M(xsmb_inflight_key, conn), M(xsmb_inflight_key, message_id)}},
      {"xsmb_inflight",
       sizeof(xsmb_inflight),
       {M(xsmb_inflight, arrival_ns), M(xsmb_inflight, command)}},
      {"xsmb_stream",
       sizeof(xsmb_stream),
       {M(xsmb_stream, next_seq), M(xsmb_stream, msg_end), M(xsmb_stream, kind),
        M(xsmb_stream, carry_len), M(xsmb_stream, home_cpu), M(xsmb_stream, carry),
        M(xsmb_stream, pending_cmd), M(xsmb_stream, pending)}},
      {"xsmb_pending",
       sizeof(xsmb_pending),
       {M(xsmb_pending, message_id), M(xsmb_pending, arrival_ns)}},
      {"xsmb_hist",
       sizeof(xsmb_hist),
       {M(xsmb_hist, count), M(xsmb_hist, sum_ns), M(xsmb_hist, buckets)}},
      {"xsmb_wload",
       sizeof(xsmb_wload),
       {M(xsmb_wload, load), M(xsmb_wload, cpu), M(xsmb_wload, selected)}},
      {"xsmb_limit",
       sizeof(xsmb_limit),
       {M(xsmb_limit, kind), M(xsmb_limit, id), M(xsmb_limit, bytes_per_sec),
        M(xsmb_limit, requests_per_sec), M(xsmb_limit, rate_bps), M(xsmb_limit, throttled_ns),
        M(xsmb_limit, name)}},
      {"xsmb_rp_key",
       sizeof(xsmb_rp_key),
       {M(xsmb_rp_key, family), M(xsmb_rp_key, port), M(xsmb_rp_key, addr)}},
      {"xsmb_skframe",
       sizeof(xsmb_skframe),
       {M(xsmb_skframe, need), M(xsmb_skframe, carry_len), M(xsmb_skframe, state),
        M(xsmb_skframe, hdr)}},
  };
}

// The QUIC steering object's structs (bpf/include/xsmb_quic.h).
std::vector<Layout> QuicLayouts() {
  return {
      {"xsmb_quic_config",
       sizeof(xsmb_quic_config),
       {M(xsmb_quic_config, port), M(xsmb_quic_config, nworkers), M(xsmb_quic_config, flags)}},
      {"xsmb_quic_cid",
       sizeof(xsmb_quic_cid),
       {M(xsmb_quic_cid, layout), M(xsmb_quic_cid, worker), M(xsmb_quic_cid, random)}},
      {"xsmb_quic_cid_info",
       sizeof(xsmb_quic_cid_info),
       {M(xsmb_quic_cid_info, worker), M(xsmb_quic_cid_info, flags),
        M(xsmb_quic_cid_info, xdp_packets)}},
      {"xsmb_quic_worker_stat",
       sizeof(xsmb_quic_worker_stat),
       {M(xsmb_quic_worker_stat, xsk_packets), M(xsmb_quic_worker_stat, xsk_bytes),
        M(xsmb_quic_worker_stat, xsk_missing), M(xsmb_quic_worker_stat, socket_packets)}},
  };
}

void CheckLayouts(bpf_object* obj, const std::string& which,
                  const std::vector<Layout>& layouts = Layouts()) {
  const btf* b = bpf_object__btf(obj);
  ASSERT_NE(b, nullptr) << which;
  for (const Layout& l : layouts) {
    SCOPED_TRACE(which + " " + l.name);
    int id = btf__find_by_name_kind(b, l.name, BTF_KIND_STRUCT);
    ASSERT_GT(id, 0) << "struct missing from BTF";
    const btf_type* t = btf__type_by_id(b, id);
    EXPECT_EQ(t->size, l.size);
    const btf_member* m = btf_members(t);
    for (const Member& want : l.members) {
      bool found = false;
      for (int i = 0; i < btf_vlen(t); i++) {
        if (want.name != std::string(btf__name_by_offset(b, m[i].name_off))) continue;
        found = true;
        EXPECT_EQ(btf_member_bit_offset(t, i), want.offset * 8) << want.name;
      }
      EXPECT_TRUE(found) << want.name;
    }
  }
}

TEST(AbiBtf, SkeletonsOpenAndMatchTheHeader) {
  std::string e;
  auto xdp = openXdp(&e);
  ASSERT_TRUE(xdp) << e;
  auto tc = openTc(&e);
  ASSERT_TRUE(tc) << e;
  auto sock = openSock(&e);
  ASSERT_TRUE(sock) << e;
  CheckLayouts(objectOf(xdp.get()), "xsmb_xdp");
  CheckLayouts(objectOf(tc.get()), "xsmb_tc");
  CheckLayouts(objectOf(sock.get()), "xsmb_sock");
}

TEST(AbiBtf, EveryObjectDefinesTheSameMapsWithPinPaths) {
  std::string e;
  auto xdp = openXdp(&e);
  auto sock = openSock(&e);
  ASSERT_TRUE(xdp && sock) << e;
  ASSERT_EQ(setPinPaths(objectOf(xdp.get()), XSMB_PIN_DIR_DEFAULT), 0);
  std::vector<std::string> names;
  bpf_map* m;
  bpf_object__for_each_map(m, objectOf(xdp.get())) {
    std::string n = bpf_map__name(m);
    if (n.find('.') != std::string::npos) continue;
    names.push_back(n);
    EXPECT_LE(n.size(), 15u) << n;
    EXPECT_EQ(n.rfind("xsmb_", 0), 0u) << n;
    // The documented path (docs/bpf.md): a change of XSMB_PIN_DIR_DEFAULT shows here.
    EXPECT_EQ(std::string(bpf_map__pin_path(m)), "/sys/fs/bpf/xsmb/" + n.substr(5));
    bpf_map* same = bpf_object__find_map_by_name(objectOf(sock.get()), n.c_str());
    ASSERT_NE(same, nullptr) << n;
    EXPECT_EQ(bpf_map__type(same), bpf_map__type(m)) << n;
    EXPECT_EQ(bpf_map__value_size(same), bpf_map__value_size(m)) << n;
  }
  EXPECT_EQ(names.size(), 18u);
  EXPECT_EQ(mapPinPath("/p", "xsmb_sessions"), "/p/sessions");
  EXPECT_EQ(progPinPath("/p", "xsmb_tc_egress"), "/p/prog_tc_egress");
}

// bpftool prints the counters by name: the BTF of every object has struct xsmb_counters with
// one __u64 field per counter, named as counterNames() says, at 8 x its enum index.
TEST(AbiBtf, CountersAreOneNamedFieldEach) {
  std::string e;
  auto xdp = openXdp(&e);
  auto tc = openTc(&e);
  auto sock = openSock(&e);
  ASSERT_TRUE(xdp && tc && sock) << e;
  for (bpf_object* obj : {objectOf(xdp.get()), objectOf(tc.get()), objectOf(sock.get())}) {
    const btf* b = bpf_object__btf(obj);
    ASSERT_NE(b, nullptr);
    int id = btf__find_by_name_kind(b, "xsmb_counters", BTF_KIND_STRUCT);
    ASSERT_GT(id, 0) << "struct xsmb_counters missing from BTF";
    const btf_type* t = btf__type_by_id(b, id);
    ASSERT_EQ(btf_vlen(t), XSMB_CNT_MAX);
    EXPECT_EQ(t->size, 8u * XSMB_CNT_MAX);
    const btf_member* m = btf_members(t);
    for (int i = 0; i < btf_vlen(t); i++) {
      EXPECT_EQ(btf__name_by_offset(b, m[i].name_off), counterNames()[i]);
      EXPECT_EQ(btf_member_bit_offset(t, i), 64u * i) << counterNames()[i];
    }
    bpf_map* map = bpf_object__find_map_by_name(obj, "xsmb_counters");
    ASSERT_NE(map, nullptr);
    EXPECT_EQ(bpf_map__max_entries(map), 1u);
    EXPECT_EQ(bpf_map__value_size(map), sizeof(xsmb_counters));
  }
}

// bpftool shows the QUIC maps with named fields: key and value structs of the CID map, the
// counters one named __u64 each (XSMB_QUIC_COUNTERS), the map names within 15 characters.
TEST(AbiBtf, QuicSteeringObjectMatchesItsHeader) {
  xsmb_quic* q = xsmb_quic__open();
  ASSERT_NE(q, nullptr);
  CheckLayouts(q->obj, "xsmb_quic", QuicLayouts());
  const btf* b = bpf_object__btf(q->obj);
  int id = btf__find_by_name_kind(b, "xsmb_quic_counters", BTF_KIND_STRUCT);
  ASSERT_GT(id, 0);
  const btf_type* t = btf__type_by_id(b, id);
  ASSERT_EQ(btf_vlen(t), XSMB_QCNT_MAX);
  const btf_member* m = btf_members(t);
  std::vector<std::string> names = {
#define XSMB_QUIC_X_NAME(name, doc) #name,
      XSMB_QUIC_COUNTERS(XSMB_QUIC_X_NAME)
#undef XSMB_QUIC_X_NAME
  };
  for (int i = 0; i < btf_vlen(t); i++) {
    EXPECT_EQ(btf__name_by_offset(b, m[i].name_off), names[i]);
    EXPECT_EQ(btf_member_bit_offset(t, i), 64u * i) << names[i];
  }
  bpf_map* cids = bpf_object__find_map_by_name(q->obj, "xsmb_quic_cids");
  ASSERT_NE(cids, nullptr);
  EXPECT_EQ(bpf_map__key_size(cids), sizeof(xsmb_quic_cid));
  EXPECT_EQ(bpf_map__value_size(cids), sizeof(xsmb_quic_cid_info));
  int maps = 0;
  bpf_map* map;
  bpf_object__for_each_map(map, q->obj) {
    std::string n = bpf_map__name(map);
    if (n.find('.') != std::string::npos) continue;
    maps++;
    EXPECT_LE(n.size(), 15u) << n;
    EXPECT_EQ(n.rfind("xsmb_quic_", 0), 0u) << n;
  }
  EXPECT_EQ(maps, 6);
  xsmb_quic__destroy(q);
}

TEST(AbiBtf, CounterAndCommandNamesComeFromTheXMacros) {
  ASSERT_EQ(counterNames().size(), static_cast<size_t>(XSMB_CNT_MAX));
  EXPECT_EQ(counterNames()[XSMB_CNT_XDP_PACKETS], "XDP_PACKETS");
  EXPECT_EQ(counterNames()[XSMB_CNT_XDP_DROP_SYN_RATE], "XDP_DROP_SYN_RATE");
  ASSERT_EQ(commandSlotNames().size(), static_cast<size_t>(XSMB_CMD_SLOTS));
  EXPECT_EQ(commandSlotNames()[0x09], "WRITE");
  EXPECT_EQ(commandSlotNames()[XSMB_CMD_TRANSFORM], "TRANSFORM");
  EXPECT_EQ(commandSlot(0x12), 0x12u);
  EXPECT_EQ(commandSlot(0x13), static_cast<uint32_t>(XSMB_CMD_OTHER));
  EXPECT_EQ(commandSlot(0xffff), static_cast<uint32_t>(XSMB_CMD_OTHER));
}

}  // namespace
}  // namespace xsmb::bpf
