// Directory change notification for CHANGE_NOTIFY (MS-SMB2 3.3.5.19, MS-FSCC 2.7.1): one
// inotify instance and one thread for the whole server. A watch reports the changes of one
// directory (inotify does not recurse, so WatchTree sees direct children only).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace xsmb::vfs {

// MS-FSCC 2.7.1 FILE_NOTIFY_INFORMATION Action values.
enum NotifyAction : uint32_t {
  FILE_ACTION_ADDED = 1,
  FILE_ACTION_REMOVED = 2,
  FILE_ACTION_MODIFIED = 3,
  FILE_ACTION_RENAMED_OLD_NAME = 4,
  FILE_ACTION_RENAMED_NEW_NAME = 5,
};

// MS-SMB2 2.2.35 CompletionFilter bits.
constexpr uint32_t FILE_NOTIFY_CHANGE_FILE_NAME = 0x001;
constexpr uint32_t FILE_NOTIFY_CHANGE_DIR_NAME = 0x002;
constexpr uint32_t FILE_NOTIFY_CHANGE_ATTRIBUTES = 0x004;
constexpr uint32_t FILE_NOTIFY_CHANGE_SIZE = 0x008;
constexpr uint32_t FILE_NOTIFY_CHANGE_LAST_WRITE = 0x010;
constexpr uint32_t FILE_NOTIFY_CHANGE_LAST_ACCESS = 0x020;
constexpr uint32_t FILE_NOTIFY_CHANGE_CREATION = 0x040;
constexpr uint32_t FILE_NOTIFY_CHANGE_EA = 0x080;
constexpr uint32_t FILE_NOTIFY_CHANGE_SECURITY = 0x100;

struct NotifyEvent {
  uint32_t action;   // NotifyAction
  std::string name;  // entry name within the watched directory (UTF-8)
};

class NotifyHub {
 public:
  using Callback = std::function<void(const NotifyEvent&)>;

  NotifyHub();
  ~NotifyHub();  // stops the thread; callbacks are not called after it returns
  NotifyHub(const NotifyHub&) = delete;
  NotifyHub& operator=(const NotifyHub&) = delete;

  // Starts watching directory `dir_fd` (any fd of it, O_PATH too) for the changes selected by
  // `completion_filter`; `cb` runs on the hub thread for each change. Returns a watch id (> 0),
  // or 0 when inotify refuses (limits). The callback must not call back into the hub.
  uint64_t watch(int dir_fd, uint32_t completion_filter, Callback cb);
  // Stops a watch; when it returns, its callback is not running and will not run again.
  void unwatch(uint64_t id);

 private:
  struct Watch {
    int wd;
    uint32_t mask;
    Callback cb;
  };
  void run();

  int inotify_fd_ = -1;
  int stop_fd_ = -1;
  std::mutex mu_;  // guards watches_ and serializes callbacks with unwatch()
  std::map<uint64_t, Watch> watches_;
  uint64_t next_id_ = 1;
  std::thread thread_;
};

}  // namespace xsmb::vfs
