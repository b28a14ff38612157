// CREATE (MS-SMB2 3.3.5.9) and CLOSE (3.3.5.10): every client path is resolved beneath the
// share root (vfs::resolvePath), access is the intersection of the share's and the file's
// (checked by the kernel under the session's identity), and share modes / delete-on-close
// follow MS-FSA through the server-wide FileTable.
#include <fcntl.h>
#include <sys/fsuid.h>
#include <sys/stat.h>
#include <unistd.h>

#include <limits>

#include "common/base/log.h"
#include "server/handlers/create_durable.h"
#include "server/handlers/ea_ops.h"
#include "common/smb2/lease.h"
#include "server/handlers/create_wait.h"
#include "server/handlers/handler.h"
#include "server/handlers/stream_ops.h"
#include "server/vfs/acl_access.h"
#include "server/vfs/attributes.h"
#include "server/vfs/dir_lease.h"
#include "server/vfs/meta_cache.h"
#include "server/vfs/path.h"
#include "server/vfs/security.h"

namespace xsmb::handlers {
namespace {

using namespace smb2;

constexpr uint32_t kWriteAccess = FILE_WRITE_DATA | FILE_APPEND_DATA | FILE_WRITE_EA |
                                  FILE_WRITE_ATTRIBUTES | DELETE | FILE_DELETE_CHILD | WRITE_DAC |
                                  WRITE_OWNER;
constexpr uint32_t kValidAccess = FILE_ALL_ACCESS | ACCESS_SYSTEM_SECURITY | MAXIMUM_ALLOWED |
                                  GENERIC_ALL | GENERIC_EXECUTE | GENERIC_WRITE | GENERIC_READ;
constexpr uint32_t kValidAttributes = 0x00007FB7;
// The rights of an open for attributes only, which no access check refuses (MS-FSA 2.1.5.1.2.1
// grants FILE_READ_ATTRIBUTES through the parent) and which an O_PATH descriptor serves.
constexpr uint32_t kAttributeRights = SYNCHRONIZE | FILE_READ_ATTRIBUTES;

// MS-DTYP 2.4.3 generic mapping for files.
uint32_t mapGeneric(uint32_t a) {
  if (a & GENERIC_READ) a |= FILE_GENERIC_READ;
  if (a & GENERIC_WRITE) a |= FILE_GENERIC_WRITE;
  if (a & GENERIC_EXECUTE) a |= FILE_GENERIC_EXECUTE;
  if (a & GENERIC_ALL) a |= FILE_ALL_ACCESS;
  return a & ~(GENERIC_READ | GENERIC_WRITE | GENERIC_EXECUTE | GENERIC_ALL);
}

// What the current filesystem identity may do with entry `name` of `dirfd` ("" = dirfd itself):
// the kernel answers (faccessat with AT_EACCESS uses the fsuid the dispatcher set).
uint32_t fileMaximalAccess(int dirfd, const std::string& name, bool directory, uid_t owner) {
  const char* n = name.empty() ? "" : name.c_str();
  int flags = AT_EACCESS | (name.empty() ? AT_EMPTY_PATH : 0);
  uint32_t a = FILE_READ_ATTRIBUTES | READ_CONTROL | SYNCHRONIZE;
  // Clients ask for FILE_EXECUTE with read (GENERIC_READ maps to it for programs they run
  // themselves), so it goes with read, as Samba maps it.
  // Read and write are asked together first: the usual answer (both) costs one call.
  bool both = faccessat(dirfd, n, R_OK | W_OK, flags) == 0;
  if (both || faccessat(dirfd, n, R_OK, flags) == 0)
    a |= FILE_READ_DATA | FILE_READ_EA | FILE_EXECUTE;
  if (both || faccessat(dirfd, n, W_OK, flags) == 0) {
    a |= FILE_WRITE_DATA | FILE_APPEND_DATA | FILE_WRITE_EA | FILE_WRITE_ATTRIBUTES |
         FILE_DELETE_CHILD;
  }
  if (!(a & FILE_EXECUTE) && faccessat(dirfd, n, X_OK, flags) == 0) a |= FILE_EXECUTE;
  uid_t fsuid = vfs::threadFsuid();
  if (fsuid == 0 || fsuid == owner) a |= WRITE_DAC | WRITE_OWNER | FILE_WRITE_ATTRIBUTES;
  return a;
}

// DELETE needs write access to the containing directory.
bool parentWritable(int parent_fd) {
  return faccessat(parent_fd, "", W_OK, AT_EACCESS | AT_EMPTY_PATH) == 0;
}

// The descriptor an Open holds. A directory opened for its attributes only gets an O_PATH one: such
// a handle can only be queried and closed (listing and watching need FILE_LIST_DIRECTORY), and an
// O_PATH open and close skip the file system's open and release and the fsnotify events.
int openFlagsFor(uint32_t access, bool directory) {
  if (directory) return ((access & ~kAttributeRights) ? O_RDONLY : O_PATH) | O_DIRECTORY;
  bool r = access & (FILE_READ_DATA | FILE_EXECUTE);
  bool w = access & (FILE_WRITE_DATA | FILE_APPEND_DATA);
  if (r && w) return O_RDWR;
  if (w) return O_WRONLY;
  if (r) return O_RDONLY;
  return O_PATH;
}

void fillTimes(const vfs::FileMeta& m, CreateResponse* r) {
  r->creation_time = m.creation_time;
  r->last_access_time = m.last_access_time;
  r->last_write_time = m.last_write_time;
  r->change_time = m.change_time;
  r->allocation_size = m.allocation_size;
  r->end_of_file = m.end_of_file;
  r->file_attributes = m.attributes;
}

// A named pipe on IPC$ (srvsvc, wkssvc, lsarpc, samr), served by the sandboxed helper.
NtStatus openPipe(RequestContext& ctx, const CreateRequest& req, ResponseBody& out) {
  if (!ctx.server->rpcd) return STATUS_OBJECT_NAME_NOT_FOUND;
  rpc::CallerInfo caller;
  caller.user = ctx.session->user;
  caller.domain = ctx.session->domain;
  caller.guest = ctx.session->guest || ctx.session->anonymous;
  // Enforced by the services (srvsvc, samr) as Samba's "restrict anonymous" 1 and 2 do.
  caller.restrict_anonymous =
      static_cast<uint8_t>(ctx.server->config.global.hardening.restrict_anonymous);
  auto pipe = ctx.server->rpcd->openPipe(req.name, caller);
  if (!pipe.ok()) {
    return pipe.status().code() == absl::StatusCode::kNotFound ? STATUS_OBJECT_NAME_NOT_FOUND
                                                               : STATUS_PIPE_NOT_AVAILABLE;
  }
  auto o = std::make_unique<session::Open>();
  o->volatile_id = ctx.conn->next_volatile_id++;
  o->share = ctx.tree->share;
  o->session_id = ctx.session->id;
  o->tree_id = ctx.tree->id;
  o->pipe_id = *pipe;
  o->granted_access = mapGeneric(req.desired_access) & ~MAXIMUM_ALLOWED;
  o->smb_path = req.name;
  o->token = ctx.server->next_open_token.fetch_add(1);
  CreateResponse resp;
  resp.create_action = FILE_OPENED;
  resp.file_attributes = FILE_ATTRIBUTE_NORMAL;
  resp.allocation_size = 4096;
  resp.file_id = {o->volatile_id, o->volatile_id};
  if (ctx.compound_file_id) *ctx.compound_file_id = resp.file_id;
  ctx.conn->opens[o->volatile_id] = std::move(o);
  out = std::move(resp);
  return STATUS_SUCCESS;
}

// What the path walk and the open or create produced: the Open and the response are built from it.
struct OpenedFile {
  vfs::Resolved res;
  uint32_t desired = 0;          // the access asked for (generic rights mapped); granted on success
  bool maximum_allowed = false;  // MAXIMUM_ALLOWED was asked for
  bool asks_maximal = false;     // the client wants the maximal access: MAXIMUM_ALLOWED or MxAc
  uint32_t create_action = FILE_OPENED;
  bool directory = false;
  uint32_t maximal = 0;  // the maximal access (the MxAc answer)
  vfs::MaybeOwnedFd fd;  // borrowed: the share root's (openExistingFile)
  int open_flags = 0;      // the access flags fd was opened with
  bool overwrite = false;  // an existing file's data is to be replaced (overwriteData)
  StreamOpened stream;     // a named stream of the file (stream.stream set): fd is its data
  const vfs::acl::AccessToken* token = nullptr;  // the session's SIDs, for the NT access check
  vfs::XattrNames xattrs;  // the file's xattr names, listed by the NT access check (if it ran)
  struct timespec before {};  // meta_cache::coarseNow() before the path walk's statx (res.stx)
  bool opened_first = false;  // fd opened before looking (openFirst); res.stx is its
  // The open succeeded with read and/or write flags that prove every right asked for
  // (openFirst, dataRightsProvenBy): no access-check call unless a stored descriptor says more.
  bool rights_proven = false;
};

// The dispositions that replace the data of a file that exists.
bool overwrites(uint32_t disposition) {
  return disposition == FILE_OVERWRITE || disposition == FILE_OVERWRITE_IF ||
         disposition == FILE_SUPERSEDE;
}

// MS-SMB2 3.3.5.9: the request's fields are checked before the path is looked at, each with the
// status Windows returns for it.
NtStatus validateCreateRequest(const CreateRequest& req) {
  if (req.impersonation_level > 3) return STATUS_BAD_IMPERSONATION_LEVEL;
  if (req.create_disposition > FILE_OVERWRITE_IF) return STATUS_INVALID_PARAMETER;
  if ((req.create_options & FILE_DIRECTORY_FILE) && (req.create_options & FILE_NON_DIRECTORY_FILE))
    return STATUS_INVALID_PARAMETER;
  if (req.create_options & 0xFF000000) return STATUS_INVALID_PARAMETER;
  if (req.desired_access & ~kValidAccess) return STATUS_ACCESS_DENIED;
  if (req.desired_access == 0) return STATUS_ACCESS_DENIED;
  if (req.file_attributes & ~kValidAttributes) return STATUS_INVALID_PARAMETER;
  if (req.share_access & ~0x7u) return STATUS_INVALID_PARAMETER;
  if (req.create_options & FILE_OPEN_BY_FILE_ID) return STATUS_NOT_SUPPORTED;
  if (req.desired_access & ACCESS_SYSTEM_SECURITY) return STATUS_PRIVILEGE_NOT_HELD;
  uint32_t disposition = req.create_disposition;
  if ((req.create_options & FILE_DIRECTORY_FILE) && disposition != FILE_CREATE &&
      disposition != FILE_OPEN && disposition != FILE_OPEN_IF) {
    return STATUS_INVALID_PARAMETER;
  }
  return STATUS_SUCCESS;
}

// The client's name as this server stores it: `*name` the file part (the Open's path; the
// stream part is in `*sp`, MS-FSCC 2.1.5.3) and `*comps` its components, for vfs::resolvePath.
NtStatus parseCreateName(const std::string& client_name, std::string* name,
                         std::vector<std::string>* comps, vfs::StreamPath* sp) {
  if (NtStatus st = vfs::parseStreamPath(client_name, sp); st != STATUS_SUCCESS) return st;
  *name = sp->file;
  if (!name->empty() && (*name)[0] == '\\') return STATUS_INVALID_PARAMETER;
  // A ".." component would climb; Windows calls that a syntax error of the path.
  for (size_t pos = 0; pos <= name->size();) {
    size_t end = name->find('\\', pos);
    if (end == std::string::npos) end = name->size();
    if (name->compare(pos, end - pos, "..") == 0 && end - pos == 2)
      return STATUS_OBJECT_PATH_SYNTAX_BAD;
    pos = end + 1;
  }
  return vfs::splitPath(*name, comps);
}

// A symlink inside the share is its target (which must stay beneath the root): `res->stx`
// becomes the target's.
NtStatus followSymlink(vfs::Resolved* res) {
  if (!res->exists || !S_ISLNK(res->stx.stx_mode)) return STATUS_SUCCESS;
  vfs::UniqueFd target(vfs::openBeneath(res->parent.get(), res->name.c_str(), O_PATH));
  if (!target) return vfs::ntStatusFromErrno(errno);
  if (statx(target.get(), "", AT_EMPTY_PATH, STATX_BASIC_STATS, &res->stx) != 0)
    return vfs::ntStatusFromErrno(errno);
  return STATUS_SUCCESS;
}

// The NT access check (MS-DTYP 2.5.3.2) of a file that exists and has a stored descriptor:
// `f->maximal` (the Unix floor, within the share's rights) becomes what the descriptor grants,
// less the data, attribute and delete rights the floor refuses. False when no descriptor is
// stored (the Unix check then stands alone).
bool applyStoredDescriptor(OpenedFile* f) {
  if (!f->token) return false;
  std::optional<uint32_t> nt = vfs::storedMaximalAccess(f->res.parent.get(), f->res.name,
                                                        *f->token, &f->xattrs, &f->res.stx);
  if (!nt) return false;
  constexpr uint32_t kUnixGoverned = FILE_READ_DATA | FILE_WRITE_DATA | FILE_APPEND_DATA |
                                     FILE_READ_EA | FILE_WRITE_EA | FILE_EXECUTE |
                                     FILE_DELETE_CHILD | FILE_WRITE_ATTRIBUTES | DELETE;
  f->maximal = *nt & (f->maximal | ~kUnixGoverned);
  return true;
}

// Whether the client asks for the maximal access: MAXIMUM_ALLOWED or an MxAc context (MS-SMB2
// 2.2.13.2.5).
bool asksMaximalAccess(const CreateRequest& req, bool maximum_allowed) {
  if (maximum_allowed) return true;
  for (const CreateContext& c : req.contexts) {
    if (c.name == "MxAc") return true;
  }
  return false;
}

// Whether the request needs the maximal access computed: it asks for it, for delete-on-close
// (which needs DELETE among it), to replace the data (refused on a read-only share whatever the
// access asked for), or for any right beyond kAttributeRights. An open for attributes only, the
// most common open of all (clients open a directory or file to query or close it), then costs
// no access system call.
bool needsMaximalAccess(const CreateRequest& req, const OpenedFile& f) {
  if (f.asks_maximal || (req.create_options & FILE_DELETE_ON_CLOSE)) return true;
  if (overwrites(req.create_disposition)) return true;
  return (f.desired & ~kAttributeRights) != 0;
}

// Whether the file opened first (`f->fd`) may have a stored security descriptor, whose NT access
// check could refuse what the Unix permissions allowed. Its xattr names come from the look-aside
// cache while it knows the inode at this ctime, else from one listxattr of the descriptor;
// `f->xattrs` keeps them for the response's DOS attributes.
bool storesDescriptor(OpenedFile* f) {
  if (!f->token) return false;  // no NT access check without a token
  const vfs::meta_cache::Record* known = vfs::meta_cache::find(f->res.stx);
  f->xattrs = known && known->names ? *known->names : vfs::listXattrNames(f->fd.get());
  return vfs::mayHaveStoredDescriptor(f->xattrs);
}

// MS-SMB2 3.3.5.9 / MS-FSA 2.1.5.1.2 for a file that exists: the disposition and file type
// checks, then the maximal access (the kernel's answer for the session's identity, within the
// share's) and the access check against it.
NtStatus checkExistingFile(const session::TreeConnect& tree, const CreateRequest& req,
                           OpenedFile* f) {
  const vfs::Resolved& res = f->res;
  uint32_t disposition = req.create_disposition;
  f->directory = S_ISDIR(res.stx.stx_mode);
  if (disposition == FILE_CREATE) return STATUS_OBJECT_NAME_COLLISION;
  if ((req.create_options & FILE_DIRECTORY_FILE) && !f->directory) return STATUS_NOT_A_DIRECTORY;
  if ((req.create_options & FILE_NON_DIRECTORY_FILE) && f->directory)
    return STATUS_FILE_IS_A_DIRECTORY;
  if (f->directory && overwrites(disposition)) return STATUS_INVALID_PARAMETER;
  if (!needsMaximalAccess(req, *f)) {
    f->maximal = f->desired;  // reported nowhere: no MxAc asked for
    return STATUS_SUCCESS;
  }
  if (f->rights_proven) {
    // The READONLY attribute (no write bits) refuses writing the data even to root, which the
    // open itself did not.
    if (!f->directory && (f->open_flags & (O_WRONLY | O_RDWR)) && (res.stx.stx_mode & 0222) == 0)
      return STATUS_ACCESS_DENIED;
    f->maximal = f->desired;  // reported nowhere: no MxAc asked for
    return STATUS_SUCCESS;
  }
  f->maximal = fileMaximalAccess(res.parent.get(), res.name, f->directory, res.stx.stx_uid);
  // DELETE (write access to the directory) is looked up only when it can matter.
  const bool delete_matters = f->asks_maximal || (f->desired & DELETE) ||
                              (req.create_options & FILE_DELETE_ON_CLOSE);
  if (delete_matters && !res.name.empty() && parentWritable(res.parent.get())) f->maximal |= DELETE;
  f->maximal &= tree.maximal_access;
  bool nt_checked = applyStoredDescriptor(f);
  // The READONLY attribute denies writing the data to everyone, administrators included
  // (MS-FSA 2.1.5.1.2.1); here it is the absence of write bits, which root would ignore.
  if (!f->directory && (res.stx.stx_mode & 0222) == 0) {
    f->maximal &= ~(FILE_WRITE_DATA | FILE_APPEND_DATA | FILE_WRITE_EA | FILE_DELETE_CHILD);
  }
  if (f->maximum_allowed) f->desired |= f->maximal;
  // MS-FSA 2.1.5.1.2.1: delete-on-close needs DELETE, MAXIMUM_ALLOWED included.
  if ((req.create_options & FILE_DELETE_ON_CLOSE) && !(f->desired & DELETE))
    return STATUS_ACCESS_DENIED;
  if (tree.read_only && ((f->desired & kWriteAccess) || overwrites(disposition)))
    return STATUS_ACCESS_DENIED;
  uint32_t free_rights = SYNCHRONIZE | FILE_READ_ATTRIBUTES | (nt_checked ? 0 : READ_CONTROL);
  if (f->desired & ~(f->maximal | free_rights)) return STATUS_ACCESS_DENIED;
  if ((req.create_options & FILE_DELETE_ON_CLOSE) && !f->directory &&
      (res.stx.stx_mode & 0222) == 0) {
    return STATUS_CANNOT_DELETE;  // read-only files cannot be deleted (MS-FSA 2.1.5.1.2.1)
  }
  return STATUS_SUCCESS;
}

// FILE_OPEN, FILE_OPEN_IF, FILE_OVERWRITE(_IF) and FILE_SUPERSEDE of a file that exists: opens it
// with the access granted and, for the overwriting dispositions, truncates it and replaces its
// attributes (MS-FSA 2.1.5.1.2).
NtStatus openExistingFile(const session::TreeConnect& tree, const CreateRequest& req,
                          OpenedFile* f) {
  if (NtStatus st = checkExistingFile(tree, req, f); st != STATUS_SUCCESS) return st;
  if (f->opened_first) return STATUS_SUCCESS;  // opened with the flags the rights need
  const vfs::Resolved& res = f->res;
  int flags = openFlagsFor(f->desired, f->directory);
  if (res.name.empty() && (flags & O_PATH)) {
    // The share root for its attributes only: its own O_PATH descriptor serves such a handle
    // (queries and close), lent to the Open rather than duplicated (no openat2, no close).
    f->fd = vfs::MaybeOwnedFd::borrowed(res.parent.get());
    f->open_flags = flags;
    return STATUS_SUCCESS;
  }
  const char* n = res.name.empty() ? "." : res.name.c_str();
  // openat2 accepts only a few flags together with O_PATH.
  f->fd.reset(vfs::openBeneath(res.parent.get(), n, (flags & O_PATH) ? flags : flags | O_NONBLOCK));
  f->open_flags = flags;
  if (!f->fd && f->directory && errno == EACCES) {
    f->fd.reset(vfs::openBeneath(res.parent.get(), n, O_PATH));
    f->open_flags = O_PATH;
  }
  if (!f->fd) return vfs::ntStatusFromErrno(errno);
  // The data goes only once the open is admitted and the caches of other holders are broken.
  f->overwrite = overwrites(req.create_disposition);
  return STATUS_SUCCESS;
}

// FILE_OVERWRITE(_IF) and FILE_SUPERSEDE of an existing file, once the open is in the file table:
// truncates it and replaces its attributes (MS-FSA 2.1.5.1.2).
NtStatus overwriteData(const CreateRequest& req, OpenedFile* f, int fd) {
  const vfs::Resolved& res = f->res;
  const char* n = res.name.empty() ? "." : res.name.c_str();
  int tfd = vfs::openBeneath(res.parent.get(), n, O_WRONLY | O_TRUNC);
  if (tfd < 0) return vfs::ntStatusFromErrno(errno);
  close(tfd);
  f->create_action = req.create_disposition == FILE_SUPERSEDE ? FILE_SUPERSEDED : FILE_OVERWRITTEN;
  vfs::removeAllStreams(fd);  // MS-FSA 2.1.5.1.2.1: the named streams go too
  vfs::setDosAttributes(fd, req.file_attributes | FILE_ATTRIBUTE_ARCHIVE);
  return STATUS_SUCCESS;
}

// MS-DTYP 2.5.3.4 for what createNewFile just made: the descriptor inherited from the parent's
// and/or given in the SecD create context (MS-SMB2 2.2.13.2.2), stored when either exists.
NtStatus storeNewDescriptor(const CreateRequest& req, OpenedFile* f) {
  if (!f->token) return STATUS_SUCCESS;
  std::optional<ByteSpan> creator;
  for (const CreateContext& c : req.contexts) {
    if (c.name == "SecD") creator = ByteSpan(c.data);
  }
  return vfs::inheritSecurityDescriptor(f->res.parent.get(), f->fd.get(), f->directory,
                                        *f->token, creator);
}

// FILE_CREATE, FILE_OPEN_IF, FILE_OVERWRITE_IF and FILE_SUPERSEDE of a name that does not exist:
// creates the directory or file (exclusively) with the share's modes and the requested
// attributes. When another client created the name between our lookup and our create, and the
// disposition would open an existing file, sets `*lost_race` (if `may_retry`) so that the caller
// looks the name up again and opens what is there, as if it had existed all along.
NtStatus createNewFile(const session::TreeConnect& tree, const CreateRequest& req, bool may_retry,
                       OpenedFile* f, bool* lost_race) {
  uint32_t disposition = req.create_disposition;
  if (disposition == FILE_OPEN || disposition == FILE_OVERWRITE) {
    return STATUS_OBJECT_NAME_NOT_FOUND;
  }
  if (tree.read_only) return STATUS_ACCESS_DENIED;
  vfs::Resolved& res = f->res;
  if (res.name.empty()) return STATUS_OBJECT_NAME_INVALID;
  const auto& cfg = tree.share->cfg;
  f->directory = req.create_options & FILE_DIRECTORY_FILE;
  if (f->token) {
    NtStatus st = vfs::checkCreateInParent(res.parent.get(), f->directory, *f->token);
    if (st != STATUS_SUCCESS) return st;
  }
  f->maximal = tree.maximal_access;  // the creator may do everything the share allows
  if (f->maximum_allowed) f->desired |= f->maximal;
  auto raced = [&] { return errno == EEXIST && disposition != FILE_CREATE && may_retry; };
  if (f->directory) {
    if (mkdirat(res.parent.get(), res.name.c_str(), 0777 & cfg.directory_mask) != 0) {
      if (raced()) {
        *lost_race = true;
        return STATUS_SUCCESS;
      }
      return vfs::ntStatusFromErrno(errno);
    }
    f->fd.reset(vfs::openBeneath(res.parent.get(), res.name.c_str(), O_RDONLY | O_DIRECTORY));
    f->open_flags = O_RDONLY;
  } else {
    int flags = openFlagsFor(f->desired, false);
    if (flags == O_PATH || flags == O_RDONLY) flags = O_RDONLY;
    f->fd.reset(vfs::openBeneath(res.parent.get(), res.name.c_str(),
                                 flags | O_CREAT | O_EXCL | O_NONBLOCK, 0666 & cfg.create_mask));
    f->open_flags = flags;
  }
  if (!f->fd) {
    // Another client created it between our lookup and our create: open what is there
    // (FILE_OPEN_IF and friends), as if it had existed all along.
    if (raced()) {
      *lost_race = true;
      return STATUS_SUCCESS;
    }
    return vfs::ntStatusFromErrno(errno);
  }
  f->create_action = FILE_CREATED;
  if (NtStatus st = storeNewDescriptor(req, f); st != STATUS_SUCCESS) {
    unlinkat(res.parent.get(), res.name.c_str(), f->directory ? AT_REMOVEDIR : 0);
    return st;
  }
  uint32_t attrs = req.file_attributes & ~FILE_ATTRIBUTE_DIRECTORY;
  if (!f->directory) attrs |= FILE_ATTRIBUTE_ARCHIVE;
  vfs::setDosAttributes(f->fd.get(), attrs);
  if (attrs & FILE_ATTRIBUTE_READONLY) fchmod(f->fd.get(), 0444 & cfg.create_mask);
  res.disk_path = res.disk_path.empty() ? res.name : res.disk_path;
  return STATUS_SUCCESS;
}

// The rights a successful open with `flags` (openFlagsFor of the rights asked for) proves the
// caller holds, as fileMaximalAccess would grant them from the same kernel answer: read access
// grants reading the data, EAs and executing; write access writing the data, EAs and
// attributes. Besides them, the rights no Unix check refuses: the attribute rights, and
// READ_CONTROL while no descriptor is stored (checkExistingFile's free rights).
uint32_t dataRightsProvenBy(int flags) {
  uint32_t a = kAttributeRights | READ_CONTROL;
  const int acc = flags & O_ACCMODE;
  if (acc == O_RDONLY || acc == O_RDWR) a |= FILE_READ_DATA | FILE_READ_EA | FILE_EXECUTE;
  if (acc == O_WRONLY || acc == O_RDWR) {
    a |= FILE_WRITE_DATA | FILE_APPEND_DATA | FILE_WRITE_EA | FILE_WRITE_ATTRIBUTES;
  }
  return a;
}

// An open of a name that is to exist (FILE_OPEN, FILE_OPEN_IF), asking for attributes only, for
// reading with an MxAc context (whose answer checkExistingFile then computes as usual), or
// for rights that the open's own flags prove (dataRightsProvenBy;
// no MxAc, no MAXIMUM_ALLOWED, no delete-on-close, within the share's rights): the whole path is
// opened first, in one openat2 beneath the share root, O_PATH or with those flags (the kernel
// checks the permissions the way the access check would ask it to, and follows a symlink beneath
// the share as the usual way does), and the statx of the descriptor describes what the name is.
// That saves opening the parent directory, the statx of the name and the access-check calls.
// `f->rights_proven` unless a stored descriptor may say more (checkExistingFile then asks; its
// directory is not open: `f->res.parent` is empty). False, with `f` untouched, when the open
// fails for any reason (no such name, another spelling, permission denied, a directory opened
// for writing): resolvePath and the usual way then decide, and name the error.
bool openFirst(const session::TreeConnect& tree, const CreateRequest& req,
               const std::vector<std::string>& comps, OpenedFile* f) {
  if (comps.empty()) return false;  // the share root: the walk's statx is reused instead
  if (req.create_disposition != FILE_OPEN && req.create_disposition != FILE_OPEN_IF) return false;
  if (req.create_options & FILE_DELETE_ON_CLOSE) return false;
  int flags = O_PATH;
  bool for_data = false;  // opened with read/write flags
  if (f->asks_maximal) {
    // An MxAc context (Windows sends one with nearly every CREATE; MAXIMUM_ALLOWED goes the
    // usual way, its rights being unknown before the check): the maximal access is computed as
    // usual once the file is open, so the open must have no effect a refusal would leave
    // behind: O_PATH for attribute rights, O_RDONLY for reading.
    if (f->maximum_allowed) return false;
    if (f->desired & ~kAttributeRights) {
      flags = openFlagsFor(f->desired, false);
      if (flags != O_RDONLY || (f->desired & ~dataRightsProvenBy(flags))) return false;
      for_data = true;
    }
  } else if (needsMaximalAccess(req, *f)) {
    flags = openFlagsFor(f->desired, false);
    if (flags == O_PATH || (f->desired & ~(dataRightsProvenBy(flags) & tree.maximal_access)))
      return false;
    if (tree.read_only && (flags & (O_WRONLY | O_RDWR))) return false;
    for_data = true;
  }
  std::string path;
  for (const std::string& c : comps) {
    if (!vfs::isValidComponent(c)) return false;  // the usual way names the error
    if (!path.empty()) path += '/';
    path += c;
  }
  vfs::UniqueFd fd(vfs::openBeneath(tree.share->root.get(), path.c_str(),
                                    for_data ? flags | O_NONBLOCK : O_PATH));
  if (!fd) return false;
  struct statx stx {};
  if (statx(fd.get(), "", AT_EMPTY_PATH, STATX_BASIC_STATS | STATX_BTIME, &stx) != 0) return false;
  f->res.stx = stx;
  f->res.exists = true;
  f->res.name = comps.back();
  f->res.disk_path = std::move(path);
  f->fd = std::move(fd);
  f->open_flags = flags;
  f->opened_first = true;
  f->rights_proven = for_data && !f->asks_maximal && !storesDescriptor(f);
  return true;
}

// MS-SMB2 3.3.5.9: resolves the path beneath the share root and opens or creates what the
// disposition asks for. A create that loses a race to another client is retried once.
// `may_open_first`: the file itself is opened (not a named stream of it), so an open may go the
// short way (openFirst).
NtStatus openOrCreate(const session::TreeConnect& tree, const CreateRequest& req,
                      const std::vector<std::string>& comps, bool may_open_first,
                      OpenedFile* f) {
  for (int attempts = 0;; ++attempts) {
    const vfs::acl::AccessToken* token = f->token;
    *f = OpenedFile{};
    f->token = token;
    f->before = vfs::meta_cache::coarseNow();
    f->desired = mapGeneric(req.desired_access);
    f->maximum_allowed = f->desired & MAXIMUM_ALLOWED;
    f->asks_maximal = asksMaximalAccess(req, f->maximum_allowed);
    f->desired &= ~MAXIMUM_ALLOWED;
    const int root = tree.share->root.get();
    if (!(may_open_first && openFirst(tree, req, comps, f))) {
      if (NtStatus st = vfs::resolvePath(root, comps, &f->res); st != STATUS_SUCCESS) return st;
    } else if (!f->rights_proven && needsMaximalAccess(req, *f)) {
      // A stored descriptor may refuse what the open allowed: the access check looks the entry
      // up in its directory.
      vfs::Resolved dir;
      if (NtStatus st = vfs::resolveParent(root, comps, &dir); st != STATUS_SUCCESS) return st;
      f->res.parent = std::move(dir.parent);
    }
    if ((req.create_options & FILE_DELETE_ON_CLOSE) && !(f->desired & DELETE) &&
        !f->maximum_allowed) {
      return STATUS_ACCESS_DENIED;
    }
    if (NtStatus st = followSymlink(&f->res); st != STATUS_SUCCESS) return st;
    if (f->res.exists) return openExistingFile(tree, req, f);
    bool lost_race = false;
    NtStatus st = createNewFile(tree, req, attempts == 0, f, &lost_race);
    if (!lost_race) return st;
  }
}

// MS-FSA 2.1.5.1: the named stream `sp` of the file just opened or created in `f`, which then
// describes the stream's open (its data descriptor, access flags, create action); `meta` gets the
// stream's sizes. A file created only for this stream is removed again when the stream fails.
NtStatus attachStream(const session::TreeConnect& tree, const CreateRequest& req,
                      const vfs::StreamPath& sp, vfs::FileMeta* meta, OpenedFile* f) {
  NtStatus st = openNamedStream(f->fd.get(), meta->device, meta->file_id, req, sp.stream,
                                f->desired, tree.read_only, &f->stream);
  if (st != STATUS_SUCCESS) {
    if (f->create_action == FILE_CREATED) unlinkat(f->res.parent.get(), f->res.name.c_str(), 0);
    return st;
  }
  f->create_action = f->stream.create_action;
  f->fd = std::move(f->stream.fd);
  f->open_flags = f->stream.open_flags;
  f->directory = false;
  meta->end_of_file = f->stream.stream->size();
  meta->allocation_size = (meta->end_of_file + 4095) & ~uint64_t{4095};
  meta->attributes &= ~FILE_ATTRIBUTE_DIRECTORY;
  if (meta->attributes == 0) meta->attributes = FILE_ATTRIBUTE_NORMAL;
  return STATUS_SUCCESS;
}

// MS-SMB2 3.3.5.9: the Open, entered in the server-wide file table, which applies the share modes
// (MS-FSA 2.1.5.1.2), breaks the caching of other holders (2.1.4.12) and grants an oplock or
// lease (`grant`). STATUS_PENDING when an acknowledgment is awaited (the caller goes async or
// waits). When the share modes refuse it, a file or directory this request created is removed.
NtStatus addOpen(RequestContext& ctx, const CreateRequest& req, const std::string& smb_path,
                 const vfs::FileMeta& meta, const smb2::LeaseContext* lease, OpenedFile& f,
                 std::unique_ptr<session::Open>* out, vfs::FileTable::OpenGrant* grant) {
  session::TreeConnect& tree = *ctx.tree;
  auto o = std::make_unique<session::Open>();
  o->volatile_id = ctx.conn->next_volatile_id++;
  o->share = tree.share;
  o->session_id = ctx.session->id;
  o->tree_id = tree.id;
  o->directory = f.directory;
  o->granted_access = f.desired;
  o->share_access = req.share_access;
  o->create_options = req.create_options;
  o->delete_on_close = req.create_options & FILE_DELETE_ON_CLOSE;
  o->disk_path = f.res.disk_path;
  o->smb_path = smb_path;
  o->key = {meta.device, meta.file_id};
  if (f.stream.stream) o->key = f.stream.stream->tableKey();
  o->token = ctx.server->next_open_token.fetch_add(1);
  if (ctx.identity) o->opener = *ctx.identity;
  vfs::FileTable::OpenRequest rq;
  rq.info.token = o->token;
  rq.info.access = o->granted_access;
  rq.info.share_access = o->share_access;
  rq.info.owner = ctx.conn->weak_from_this();
  rq.info.volatile_id = o->volatile_id;
  rq.info.session_id = o->session_id;
  rq.info.channel = (ctx.channel ? ctx.channel : ctx.conn)->serial;
  if (lease) {  // a directory gets no lease, but its key is checked all the same
    rq.info.has_lease = true;
    rq.info.client_guid = ctx.conn->client_guid;
    rq.info.lease_key = lease->key;
    rq.lease = lease;
    rq.directory_lease = lease->version == 2 &&
                         (ctx.conn->server_capabilities & SMB2_GLOBAL_CAP_DIRECTORY_LEASING);
  }
  rq.oplock = req.requested_oplock_level;
  rq.directory = f.directory;
  rq.will_overwrite = f.overwrite;
  rq.first_attempt = !ctx.create_retry;
  NtStatus s2 = ctx.server->files.open(o->key, rq, grant);
  if (s2 == STATUS_PENDING && (f.create_action == FILE_CREATED || !mayGoAsync(ctx) || ctx.related)) {
    // A CREATE inside a compound cannot go async: it waits here (never on an event loop).
    for (int i = 0; i < 2 && s2 == STATUS_PENDING && !vfs::onEventLoopThread(); ++i) {
      ctx.server->files.waitBreakProgress(o->key);
      rq.first_attempt = false;
      s2 = ctx.server->files.open(o->key, rq, grant);
    }
    if (s2 == STATUS_PENDING) s2 = STATUS_SHARING_VIOLATION;
  }
  if (s2 == STATUS_PENDING) return goAsyncForBreak(ctx, o->key);
  if (s2 != STATUS_SUCCESS) {
    if (f.stream.stream) {
      undoStreamCreate(f.stream);
    } else if (f.create_action == FILE_CREATED) {
      unlinkat(f.res.parent.get(), f.res.name.c_str(), f.directory ? AT_REMOVEDIR : 0);
    }
    return s2;
  }
  // What the descriptor allows, from the flags it was opened with (no F_GETFL call).
  int acc = f.open_flags & (O_ACCMODE | O_PATH);
  o->has_read = !(acc & O_PATH) && ((acc & O_ACCMODE) == O_RDONLY || (acc & O_ACCMODE) == O_RDWR);
  o->has_write = !(acc & O_PATH) && ((acc & O_ACCMODE) == O_WRONLY || (acc & O_ACCMODE) == O_RDWR);
  o->fd = std::move(f.fd);
  o->stream = std::move(f.stream.stream);
  if (o->stream) o->stream->setShareAccess(o->share_access);
  *out = std::move(o);
  return STATUS_SUCCESS;
}

// MS-SMB2 2.2.13.2.6 SMB2_CREATE_ALLOCATION_SIZE (8 bytes, AllocationSize in bytes) on a file
// just created: the space is reserved without changing the size (MS-FSA 2.1.5.1.2.1), and the
// response reports the allocation that results. A malformed or refused request changes nothing.
void reserveAllocation(int fd, ByteSpan data, CreateResponse* resp) {
  if (data.size() != 8) return;
  ByteReader r(data);
  uint64_t size = r.u64();
  if (size == 0 || size > static_cast<uint64_t>(std::numeric_limits<off_t>::max())) return;
  if (fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, static_cast<off_t>(size)) != 0) return;
  struct stat st {};
  if (fstat(fd, &st) == 0) resp->allocation_size = static_cast<uint64_t>(st.st_blocks) * 512;
}

// Whether applyCreateContexts changes the file it opened (an EA buffer stored, space reserved):
// the response must then state the file's times and sizes as they are after those changes, as
// a query right after the CREATE sees them.
bool contextsChangeFile(const CreateRequest& req, const OpenedFile& f) {
  for (const CreateContext& c : req.contexts) {
    if (c.name == "ExtA" && f.create_action != FILE_OPENED) return true;
    if (c.name == "AlSi" && f.create_action == FILE_CREATED && !f.directory) return true;
  }
  return false;
}

// MS-SMB2 3.3.5.9: the create contexts this server acts on (SecD: storeNewDescriptor); MxAc
// (2.2.14.2.5) answers the maximal access, QFid (2.2.14.2.9) the on-disk id. Other contexts
// (leases, durable handles, ...) are not granted and so not answered. When the security
// descriptor cannot be set, the Open (already in the file table, maybe holding an oplock) is
// closed again and the create fails with that status.
NtStatus applyCreateContexts(RequestContext& ctx, const CreateRequest& req, const OpenedFile& f,
                             const vfs::FileMeta& meta, std::unique_ptr<session::Open>& o,
                             CreateResponse* resp) {
  for (const CreateContext& c : req.contexts) {
    if (c.name == "ExtA" && f.create_action != FILE_OPENED) {  // MS-SMB2 2.2.13.2.1
      if (NtStatus est = applyCreateEaBuffer(*o, c.data); est != STATUS_SUCCESS) {
        uint64_t id = o->volatile_id;
        ctx.conn->opens[id] = std::move(o);
        ctx.conn->closeOpen(id);
        return est;
      }
      continue;
    }
    if (c.name == "MxAc") {
      ByteWriter w;
      w.u32(STATUS_SUCCESS);
      w.u32(f.maximal);
      resp->contexts.emplace_back("MxAc", w.take());
    } else if (c.name == "QFid") {
      ByteWriter w;
      w.u64(meta.file_id);
      w.u64(meta.device);
      w.zeros(16);
      resp->contexts.emplace_back("QFid", w.take());
    } else if (c.name == "AlSi" && f.create_action == FILE_CREATED && !f.directory) {
      reserveAllocation(o->fd.get(), c.data, resp);
    }
  }
  return STATUS_SUCCESS;
}

// MS-SMB2 3.3.5.9.8 / 3.3.5.9.11: the "RqLs" context counts when the connection negotiated
// SMB2_GLOBAL_CAP_LEASING and RequestedOplockLevel is SMB2_OPLOCK_LEVEL_LEASE; version 2 from
// SMB 3.0 on.
NtStatus leaseRequest(const RequestContext& ctx, const CreateRequest& req, LeaseContext* lease,
                      bool* has_lease) {
  *has_lease = false;
  if (req.requested_oplock_level != SMB2_OPLOCK_LEVEL_LEASE) return STATUS_SUCCESS;
  if (!(ctx.conn->server_capabilities & SMB2_GLOBAL_CAP_LEASING)) return STATUS_SUCCESS;
  for (const CreateContext& c : req.contexts) {
    if (c.name != "RqLs") continue;
    bool v2 = ctx.conn->dialect >= SMB2_DIALECT_300 && ctx.conn->dialect != SMB2_DIALECT_WILDCARD;
    if (NtStatus st = decodeLeaseContext(c.data, v2, lease); st != STATUS_SUCCESS) return st;
    *has_lease = true;
  }
  return STATUS_SUCCESS;
}

}  // namespace

session::Open* findOpen(RequestContext& ctx, const FileId& id) {
  FileId fid = id;
  if (fid.isRelatedPlaceholder() && ctx.related && ctx.compound_file_id)
    fid = *ctx.compound_file_id;
  auto it = ctx.conn->opens.find(fid.volatile_id);
  if (it == ctx.conn->opens.end()) return nullptr;
  session::Open* o = it->second.get();
  if (fid.persistent != o->volatile_id) return nullptr;
  if (!ctx.session || o->session_id != ctx.session->id) return nullptr;
  if (ctx.tree && o->tree_id != ctx.tree->id) return nullptr;
  if (ctx.compound_file_id) *ctx.compound_file_id = fid;
  return o;
}

NtStatus handleCreate(RequestContext& ctx, ResponseBody& out) {
  CreateRequest req;
  if (NtStatus st = decodeCreateRequest(ctx.message, &req); st != STATUS_SUCCESS) return st;
  XLOG(DEBUG) << "CREATE '" << req.name << "' access 0x" << std::hex << req.desired_access
              << " attrs 0x" << req.file_attributes << " share 0x" << req.share_access << " disp "
              << req.create_disposition << " options 0x" << req.create_options << std::dec;
  if (NtStatus st = session::admitOpen(*ctx.conn, ctx.session->id); st != STATUS_SUCCESS) return st;
  session::TreeConnect& tree = *ctx.tree;
  if (tree.ipc) return openPipe(ctx, req, out);
  DurableContexts durable;  // a reconnect or a replay is answered at once
  bool answered = false;
  if (NtStatus st = durableBeforeCreate(ctx, req, &durable, out, &answered);
      answered || st != STATUS_SUCCESS) {
    return st;
  }

  if (NtStatus st = validateCreateRequest(req); st != STATUS_SUCCESS) return st;
  if (NtStatus st = checkCreateEaBuffer(req); st != STATUS_SUCCESS) return st;
  std::string name;
  std::vector<std::string> comps;
  vfs::StreamPath sp;
  if (NtStatus st = parseCreateName(req.name, &name, &comps, &sp); st != STATUS_SUCCESS) return st;
  if (NtStatus st = checkStreamCreate(req, sp); st != STATUS_SUCCESS) return st;
  std::optional<CreateRequest> file_req;  // a named stream: first its file
  if (sp.named()) file_req = streamFileRequest(req);
  OpenedFile f;
  vfs::acl::AccessToken token = vfs::tokenForIdentity(ctx.session->identity, ctx.session->guest);
  f.token = &token;
  if (NtStatus st = openOrCreate(tree, file_req ? *file_req : req, comps, !sp.named(), &f);
      st != STATUS_SUCCESS) {
    return st;
  }
  if (sp.has_type && !sp.named() && f.directory) return STATUS_FILE_IS_A_DIRECTORY;

  smb2::LeaseContext lease;
  bool has_lease = false;
  if (NtStatus st = leaseRequest(ctx, req, &lease, &has_lease); st != STATUS_SUCCESS) return st;
  // One statx for the file table's key and the response's times and sizes.
  vfs::FileMeta meta;
  vfs::PathFacts facts;
  facts.before = f.before;
  facts.names = sp.named() ? nullptr : &f.xattrs;
  if (f.open_flags & O_PATH) facts.kind = vfs::FdKind::kPath;
  if (f.create_action == FILE_OPENED) {
    facts.stx = &f.res.stx;
    // The share root reopened beneath its own descriptor is the inode the walk saw.
    facts.fd_is_stx = f.res.name.empty() || f.opened_first;
  }
  if (NtStatus ms = vfs::readFileMeta(f.fd.get(), &meta, facts); ms != STATUS_SUCCESS) return ms;
  if (NtStatus st = checkOpenAgainstStreams(sp, f.desired, meta); st != STATUS_SUCCESS) return st;
  if (sp.named()) {
    if (NtStatus st = attachStream(tree, req, sp, &meta, &f); st != STATUS_SUCCESS) return st;
    name += ":" + sp.stream;
  }
  std::unique_ptr<session::Open> o;
  vfs::FileTable::OpenGrant grant;
  if (NtStatus st = addOpen(ctx, req, name, meta, has_lease ? &lease : nullptr, f, &o, &grant);
      st != STATUS_SUCCESS) {
    return st;
  }
  auto fail = [&](NtStatus st) {
    uint64_t id = o->volatile_id;
    ctx.conn->opens[id] = std::move(o);
    ctx.conn->closeOpen(id);
    return st;
  };
  if (f.stream.truncate) {
    if (NtStatus st = o->stream->setSize(0); st != STATUS_SUCCESS) return fail(st);
    meta.end_of_file = meta.allocation_size = 0;
  }
  if (f.overwrite) {
    NtStatus st = overwriteData(req, &f, o->fd.get());
    if (st == STATUS_SUCCESS) st = vfs::readFileMeta(o->fd.get(), &meta);
    if (st != STATUS_SUCCESS) return fail(st);
  }

  CreateResponse resp;
  resp.create_action = f.create_action;
  resp.oplock_level = grant.oplock_level;
  if (grant.lease) resp.contexts.emplace_back("RqLs", encodeLeaseContext(grant.lease_response));
  fillTimes(meta, &resp);
  resp.file_id = {o->volatile_id, o->volatile_id};
  if (NtStatus st = applyCreateContexts(ctx, req, f, meta, o, &resp); st != STATUS_SUCCESS)
    return st;
  if (!sp.named() && contextsChangeFile(req, f) &&
      vfs::readFileMeta(o->fd.get(), &meta) == STATUS_SUCCESS) {
    fillTimes(meta, &resp);
  }
  // A lease is durable when it caches handles (MS-SMB2 3.3.5.9.6, 3.3.5.9.10).
  const bool handle_lease =
      grant.lease && (grant.lease_response.state & smb2::SMB2_LEASE_HANDLE_CACHING);
  grantDurable(ctx, durable, *o, f.create_action, resp.oplock_level, handle_lease, &resp);
  // A new or replaced entry changes its directory (MS-SMB2 3.3.4.7 directory leases).
  if (f.create_action != FILE_OPENED && !o->stream && ctx.server->files.anyDirectoryLeases()) {
    vfs::breakParentDirectoryLeases(ctx.server->files, f.res.parent.get(),
                                    ctx.server->files.parentLeaseOf(o->key, o->token));
  }
  if (ctx.compound_file_id) *ctx.compound_file_id = resp.file_id;
  ctx.conn->opens[o->volatile_id] = std::move(o);
  out = std::move(resp);
  return STATUS_SUCCESS;
}

NtStatus handleClose(RequestContext& ctx, ResponseBody& out) {
  CloseRequest req;
  if (NtStatus st = decodeCloseRequest(ctx.message, &req); st != STATUS_SUCCESS) return st;
  session::Open* o = findOpen(ctx, req.file_id);
  if (!o) return STATUS_FILE_CLOSED;
  CloseResponse resp;
  if (req.flags & SMB2_CLOSE_FLAG_POSTQUERY_ATTRIB) {
    vfs::FileMeta m;
    if (readOpenMeta(*o, &m) == STATUS_SUCCESS) {
      resp.flags = SMB2_CLOSE_FLAG_POSTQUERY_ATTRIB;
      resp.creation_time = m.creation_time;
      resp.last_access_time = m.last_access_time;
      resp.last_write_time = m.last_write_time;
      resp.change_time = m.change_time;
      resp.allocation_size = m.allocation_size;
      resp.end_of_file = m.end_of_file;
      resp.file_attributes = m.attributes;
    }
  }
  ctx.conn->closeOpen(o->volatile_id);
  out = resp;
  return STATUS_SUCCESS;
}

}  // namespace xsmb::handlers
