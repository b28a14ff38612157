// A fixed pool of threads that run blocking work (request handling with its file I/O) so that
// no event loop ever waits on the filesystem.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace xsmb::vfs {

class IoPool {
 public:
  explicit IoPool(size_t threads);
  ~IoPool();  // finishes queued work, then joins
  IoPool(const IoPool&) = delete;
  IoPool& operator=(const IoPool&) = delete;

  void submit(std::function<void()> task);

 private:
  void run();

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace xsmb::vfs
