// xsmbctl: manages the xsmbd user database (the file named by "smb passwd file").
//
//   xsmbctl [--config FILE | --db FILE] user add NAME [--unix-user U]
//   xsmbctl [--config FILE | --db FILE] user del NAME
//   xsmbctl [--config FILE | --db FILE] user passwd NAME
//   xsmbctl [--config FILE | --db FILE] user list
//
// Passwords come from the terminal (asked twice, not echoed) or, when stdin is not a
// terminal, from the first line of stdin. Only the NT hash is kept; the password is wiped
// from memory as soon as it is hashed.
#include <openssl/crypto.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "common/base/manual.h"
#include "common/crypto/crypto.h"
#include "server/config/smb_conf.h"
#include "server/config/user_db.h"
#include "tools/xsmbctl/limit.h"

namespace xsmb::xsmbctl {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitError = 1;
constexpr int kExitUsage = 2;

const char kUsage[] =
    "usage: xsmbctl [--config FILE | --db FILE] user add NAME [--unix-user U]\n"
    "       xsmbctl [--config FILE | --db FILE] user del NAME\n"
    "       xsmbctl [--config FILE | --db FILE] user passwd NAME\n"
    "       xsmbctl [--config FILE | --db FILE] user list\n"
    "       xsmbctl [--config FILE | --socket PATH] status\n"
    "       xsmbctl [--config FILE | --socket PATH] ready\n"
    "       xsmbctl [--config FILE | --pin-dir DIR] limit list\n"
    "       xsmbctl [--config FILE | --pin-dir DIR] limit user|share NAME BYTES_PER_SEC "
    "[REQUESTS_PER_SEC]\n"
    "The user database is --db, else the \"smb passwd file\" of --config, else %s.\n"
    "status reads the server's control socket: --socket, else \"control socket\" of --config,\n"
    "else xsmbd.sock beside the user database.\n";

int usage(const char* problem) {
  if (problem) fprintf(stderr, "xsmbctl: %s\n", problem);
  fprintf(stderr, kUsage, config::GlobalConfig{}.smb_passwd_file.c_str());
  return kExitUsage;
}

int fail(const std::string& message) {
  fprintf(stderr, "xsmbctl: %s\n", message.c_str());
  return kExitError;
}

// A string that is wiped when it goes away, for passwords.
class Secret {
 public:
  Secret() = default;
  Secret(const Secret&) = delete;
  Secret& operator=(const Secret&) = delete;
  ~Secret() { wipe(); }
  std::string& value() { return value_; }
  void wipe() {
    if (!value_.empty()) OPENSSL_cleanse(value_.data(), value_.size());
    value_.clear();
  }

 private:
  std::string value_;
};

// Reads one line (without its '\n' / "\r\n") from fd; false on EOF before any byte.
bool readLine(int fd, std::string* out) {
  bool any = false;
  for (;;) {
    char c;
    ssize_t n = read(fd, &c, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    any = true;
    if (c == '\n') break;
    out->push_back(c);
  }
  if (!out->empty() && out->back() == '\r') out->pop_back();
  return any;
}

// Prompts on stderr and reads a line from the terminal on stdin with echo off.
bool promptNoEcho(const char* prompt, std::string* out) {
  fprintf(stderr, "%s", prompt);
  fflush(stderr);
  termios old_mode;
  bool restore = tcgetattr(STDIN_FILENO, &old_mode) == 0;
  if (restore) {
    termios quiet = old_mode;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    quiet.c_lflag |= ECHONL;
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
  }
  bool ok = readLine(STDIN_FILENO, out);
  if (restore) tcsetattr(STDIN_FILENO, TCSAFLUSH, &old_mode);
  return ok;
}

// Asks for a new password and returns its NT hash (MS-NLMP 3.3.1), or nullopt after printing
// why not.
std::optional<crypto::Key16> readNewPasswordHash(const std::string& user) {
  Secret first;
  if (isatty(STDIN_FILENO)) {
    Secret second;
    std::string prompt = "New SMB password for " + user + ": ";
    if (!promptNoEcho(prompt.c_str(), &first.value()) ||
        !promptNoEcho("Retype new SMB password: ", &second.value())) {
      fail("no password entered");
      return std::nullopt;
    }
    if (first.value() != second.value()) {
      fail("passwords do not match; nothing changed");
      return std::nullopt;
    }
  } else if (!readLine(STDIN_FILENO, &first.value())) {
    fail("no password on stdin (expected one line)");
    return std::nullopt;
  }
  if (first.value().empty()) {
    fail("empty passwords are not allowed");
    return std::nullopt;
  }
  crypto::Key16 hash = crypto::ntHash(first.value());
  return hash;
}

struct Options {
  std::optional<std::string> config_path;
  std::optional<std::string> db_path;
  std::optional<std::string> unix_user;
  std::optional<std::string> socket_path;
  std::optional<std::string> pin_dir;
  std::vector<std::string> args;  // positional
};

// Sends `command` ("status" or "ready", server/core/control.h) to the running server's control
// socket and returns its whole answer in *answer; kExitOk, or the exit status of the failure
// (already printed).
int query(const Options& opts, const std::string& command, std::string* answer) {
  std::string path;
  if (opts.socket_path) {
    path = *opts.socket_path;
  } else {
    config::GlobalConfig g;
    if (opts.config_path) {
      auto parsed = config::loadSmbConf(*opts.config_path);
      if (!parsed.ok()) return fail(std::string(parsed.status().message()));
      g = parsed->config.global;
    }
    path = !g.control_socket.empty()
               ? g.control_socket
               : (std::filesystem::path(g.smb_passwd_file).parent_path() / "xsmbd.sock").string();
  }
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) return fail("control socket path too long: " + path);
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    std::string why = std::strerror(errno);
    if (fd >= 0) close(fd);
    return fail("cannot reach xsmbd at " + path + ": " + why + " (is it running?)");
  }
  const std::string line = command + "\n";
  (void)!send(fd, line.data(), line.size(), MSG_NOSIGNAL);
  char buf[65536];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n <= 0) break;
    answer->append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return kExitOk;
}

// Prints the running server's status report (sessions, tree connects, open files, counters).
int status(const Options& opts) {
  std::string report;
  if (int rc = query(opts, "status", &report); rc != kExitOk) return rc;
  fwrite(report.data(), 1, report.size(), stdout);
  return kExitOk;
}

// A readiness probe: prints the server's state line and succeeds only when it is "ready"
// (listening, not draining, not taken over by a newer generation).
int ready(const Options& opts) {
  std::string answer;
  if (int rc = query(opts, "ready", &answer); rc != kExitOk) return rc;
  fwrite(answer.data(), 1, answer.size(), stdout);
  return answer == "state: ready\n" ? kExitOk : kExitError;
}

std::string databasePath(const Options& opts, std::string* error) {
  if (opts.db_path) return *opts.db_path;
  if (opts.config_path) {
    auto parsed = config::loadSmbConf(*opts.config_path);
    if (!parsed.ok()) {
      *error = std::string(parsed.status().message());
      return "";
    }
    return parsed->config.global.smb_passwd_file;
  }
  return config::GlobalConfig{}.smb_passwd_file;
}

int userAdd(const std::string& db_path, const std::string& name,
            const std::optional<std::string>& unix_user) {
  if (absl::Status s = config::UserDb::validateName(name); !s.ok()) {
    return fail(std::string(s.message()));
  }
  auto db = config::UserDb::load(db_path);
  if (!db.ok()) return fail(std::string(db.status().message()));
  if (db->find(name)) {
    return fail("user \"" + name + "\" already exists in " + db_path +
                " (use \"user passwd\" to change its password)");
  }
  std::string unix_name = unix_user.value_or(name);
  if (getpwnam(unix_name.c_str()) == nullptr) {
    if (unix_user) return fail("unix user \"" + unix_name + "\" does not exist");
    return fail("there is no unix account named \"" + name +
                "\"; pass --unix-user U to name the account that serves this user");
  }
  std::optional<crypto::Key16> hash = readNewPasswordHash(name);
  if (!hash) return kExitError;
  if (absl::Status s = db->add({name, unix_name, *hash, false}); !s.ok()) {
    return fail(std::string(s.message()));
  }
  if (absl::Status s = db->save(db_path); !s.ok()) return fail(std::string(s.message()));
  fprintf(stderr, "Added user %s (unix user %s).\n", name.c_str(), unix_name.c_str());
  return kExitOk;
}

int userDel(const std::string& db_path, const std::string& name) {
  auto db = config::UserDb::load(db_path);
  if (!db.ok()) return fail(std::string(db.status().message()));
  if (absl::Status s = db->remove(name); !s.ok()) {
    return fail("no user \"" + name + "\" in " + db_path);
  }
  if (absl::Status s = db->save(db_path); !s.ok()) return fail(std::string(s.message()));
  fprintf(stderr, "Deleted user %s.\n", name.c_str());
  return kExitOk;
}

int userPasswd(const std::string& db_path, const std::string& name) {
  auto db = config::UserDb::load(db_path);
  if (!db.ok()) return fail(std::string(db.status().message()));
  const config::UserEntry* entry = db->find(name);
  if (!entry) return fail("no user \"" + name + "\" in " + db_path);
  std::string stored_name = entry->name;
  std::optional<crypto::Key16> hash = readNewPasswordHash(stored_name);
  if (!hash) return kExitError;
  if (absl::Status s = db->setHash(name, *hash); !s.ok()) return fail(std::string(s.message()));
  if (absl::Status s = db->save(db_path); !s.ok()) return fail(std::string(s.message()));
  fprintf(stderr, "Changed password of user %s.\n", stored_name.c_str());
  return kExitOk;
}

int userList(const std::string& db_path) {
  auto db = config::UserDb::load(db_path);
  if (!db.ok()) return fail(std::string(db.status().message()));
  for (const config::UserEntry& u : db->users()) {
    printf("%s\t%s%s\n", u.name.c_str(), u.unix_name.c_str(), u.disabled ? "\tdisabled" : "");
  }
  return kExitOk;
}

// The pinned limits map: --pin-dir, else "bpf pin dir" of --config, else the default.
int limit(const Options& opts) {
  std::string pin_dir = opts.pin_dir.value_or(config::GlobalConfig{}.bpf_pin_dir);
  if (!opts.pin_dir && opts.config_path) {
    auto parsed = config::loadSmbConf(*opts.config_path);
    if (!parsed.ok()) return fail(std::string(parsed.status().message()));
    pin_dir = parsed->config.global.bpf_pin_dir;
  }
  return limitCommand(pin_dir, std::vector<std::string>(opts.args.begin() + 1, opts.args.end()));
}

Manual manual() {
  const std::string db = config::GlobalConfig{}.smb_passwd_file;
  Manual m;
  m.name = "xsmbctl - manage xsmbd's users, look at a running xsmbd, set live limits";
  m.synopsis =
      "xsmbctl [--config FILE | --db FILE] user add NAME [--unix-user U]\n"
      "xsmbctl [--config FILE | --db FILE] user del|passwd NAME\n"
      "xsmbctl [--config FILE | --db FILE] user list\n"
      "xsmbctl [--config FILE | --socket PATH] status\n"
      "xsmbctl [--config FILE | --pin-dir DIR] limit list\n"
      "xsmbctl [--config FILE | --pin-dir DIR] limit user|share NAME BYTES_PER_SEC [REQ_PER_SEC]";
  m.description =
      "xsmbctl edits the user database of xsmbd (one line per user: SMB name, the Unix account "
      "that serves the user, the NT hash of the password; never the password itself), prints "
      "the status of a running server through its control socket, and sets per-user and "
      "per-share bandwidth and request-rate limits in the pinned BPF map that xsmbd reads on "
      "every request.\n\n"
      "Passwords come from the terminal (asked twice, not echoed) or, when stdin is not a "
      "terminal, from its first line.";
  m.entries_title = "COMMANDS";
  m.entries = {
      {"user add NAME [--unix-user U]", "Adds NAME, served as Unix user U (default: NAME)."},
      {"user del NAME", "Removes NAME."},
      {"user passwd NAME", "Sets NAME's password."},
      {"user list", "Lists the users, their Unix accounts, and which are disabled."},
      {"status", "Sessions, tree connects, open files and counters of the running server."},
      {"ready", "Prints the running server's state; exits 0 only when it is ready to serve "
                "(a readiness probe that, unlike /readyz on a shared host address, always "
                "reaches this server: see docs/deploy.md)."},
      {"limit list", "The live limits and what was measured against them."},
      {"limit user|share NAME BYTES_PER_SEC [REQ_PER_SEC]",
       "Sets a limit (suffixes k, M, G; 0: none); it applies to the next request."}};
  m.sections = {
      {"OPTIONS",
       "--config FILE, -c FILE: take the paths below from this smb.conf. --db FILE: the user "
       "database (default: \"smb passwd file\" of --config, else " + db + "). --socket PATH: "
       "the control socket (default: \"control socket\" of --config, else xsmbd.sock beside "
       "the user database). --pin-dir DIR: the BPF pin directory (default: \"bpf pin dir\" of "
       "--config, else /sys/fs/bpf/xsmb). --help, -h: this text."},
      {"EXIT STATUS", "0 done, 1 failed, 2 usage error."},
      {"SEE ALSO", "xsmbd(8), xsmb-loader(8); README.md \"Users\"."}};
  return m;
}

int run(int argc, char** argv) {
  Options opts;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](std::optional<std::string>* slot) -> bool {
      if (i + 1 >= argc) return false;
      *slot = argv[++i];
      return true;
    };
    if (a == "-h" || a == "--help") {
      fputs(renderManual(manual()).c_str(), stdout);
      return kExitOk;
    } else if (a == "--config" || a == "-c") {
      if (!value(&opts.config_path)) return usage("--config needs a file");
    } else if (a == "--db") {
      if (!value(&opts.db_path)) return usage("--db needs a file");
    } else if (a == "--socket") {
      if (!value(&opts.socket_path)) return usage("--socket needs a path");
    } else if (a == "--pin-dir") {
      if (!value(&opts.pin_dir)) return usage("--pin-dir needs a directory");
    } else if (a == "--unix-user") {
      if (!value(&opts.unix_user)) return usage("--unix-user needs a user name");
    } else if (a.size() > 1 && a[0] == '-') {
      return usage(("unknown option " + a).c_str());
    } else {
      opts.args.push_back(a);
    }
  }
  if (opts.config_path && opts.db_path) return usage("give either --config or --db, not both");
  const std::vector<std::string>& args = opts.args;
  if (args.empty()) return usage(nullptr);
  if (args[0] == "status") {
    if (args.size() != 1) return usage("status takes no arguments");
    return status(opts);
  }
  if (args[0] == "ready") {
    if (args.size() != 1) return usage("ready takes no arguments");
    return ready(opts);
  }
  if (args[0] == "limit") return limit(opts);
  if (args[0] != "user") return usage(("unknown command \"" + args[0] + "\"").c_str());
  if (args.size() < 2) return usage("missing user subcommand");
  const std::string& cmd = args[1];
  size_t want = cmd == "list" ? 2 : 3;
  if (cmd != "add" && cmd != "del" && cmd != "passwd" && cmd != "list") {
    return usage(("unknown user subcommand \"" + cmd + "\"").c_str());
  }
  if (args.size() != want) {
    return usage(want == 3 ? "expected exactly one user NAME" : "too many arguments");
  }
  if (opts.unix_user && cmd != "add") return usage("--unix-user only goes with \"user add\"");

  std::string error;
  std::string db_path = databasePath(opts, &error);
  if (db_path.empty()) return fail(error);
  if (cmd == "add") return userAdd(db_path, args[2], opts.unix_user);
  if (cmd == "del") return userDel(db_path, args[2]);
  if (cmd == "passwd") return userPasswd(db_path, args[2]);
  return userList(db_path);
}

}  // namespace
}  // namespace xsmb::xsmbctl

int main(int argc, char** argv) { return xsmb::xsmbctl::run(argc, argv); }
