// Break delivery's timing pieces (session/break_delivery.h): the delay before a notification is
// judged, and the delayed-task thread that waits it out.
#include "server/session/break_delivery.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

namespace xsmb::session {
namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;

// 6 retransmission timeouts, the RTO clamped to [200 ms, 1 s] (Samba's bounds).
TEST(BreakDeliveryTest, TimeoutIsSixClampedRtos) {
  EXPECT_EQ(deliveryTimeout(microseconds(0)), milliseconds(1200));  // no estimate: the floor
  EXPECT_EQ(deliveryTimeout(microseconds(204000)), milliseconds(1224));  // a LAN's
  EXPECT_EQ(deliveryTimeout(microseconds(5000000)), milliseconds(6000));  // the ceiling
}

TEST(BreakDeliveryTest, DelayedTasksRunInDeadlineOrder) {
  std::mutex mu;
  std::vector<int> ran;
  std::atomic<int> count{0};
  {
    DelayedTasks tasks;
    auto add = [&](int ms, int tag) {
      tasks.after(milliseconds(ms), [&, tag] {
        std::lock_guard<std::mutex> lock(mu);
        ran.push_back(tag);
        ++count;
      });
    };
    add(60, 3);
    add(20, 1);
    add(40, 2);
    add(60000, 4);  // dropped when `tasks` goes
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (count < 3 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(milliseconds(5));
    }
  }
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_EQ(ran, (std::vector<int>{1, 2, 3}));
}

}  // namespace
}  // namespace xsmb::session
