// Metadata-call probe behind docs/performance.md "openat2 and statx through io_uring": the cost
// of one statx / openat2 of a cached path made directly, and through io_uring (one SQE
// submitted and waited for at a time, as a CREATE on the event loop would need it).
// Not built by CMake (a measurement, not a test):
//   cc -O2 -o /tmp/uring_meta_probe tools/bench/uring_meta_probe.c -luring
//   /tmp/uring_meta_probe /usr/share/doc      # any existing directory with a few entries
#define _GNU_SOURCE
#include <fcntl.h>
#include <liburing.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

enum { kN = 100000 };

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

static int wait_one(struct io_uring* ring) {
  struct io_uring_cqe* cqe;
  if (io_uring_submit_and_wait(ring, 1) < 0 || io_uring_wait_cqe(ring, &cqe) != 0) return -1;
  int res = cqe->res;
  io_uring_cqe_seen(ring, cqe);
  return res;
}

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  int dir = open(argv[1], O_PATH | O_DIRECTORY);
  if (dir < 0) {
    perror(argv[1]);
    return 1;
  }
  struct io_uring ring;
  if (io_uring_queue_init(8, &ring, IORING_SETUP_SINGLE_ISSUER) != 0) {
    fprintf(stderr, "io_uring_queue_init failed\n");
    return 1;
  }
  struct open_how how = {.flags = O_PATH | O_CLOEXEC,
                         .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS};
  struct statx stx;
  double t0 = now();
  for (int i = 0; i < kN; ++i) {
    if (statx(dir, ".", AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &stx) != 0) return 1;
  }
  double t1 = now();
  for (int i = 0; i < kN; ++i) {
    struct io_uring_sqe* sqe = io_uring_get_sqe(&ring);
    io_uring_prep_statx(sqe, dir, ".", AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &stx);
    if (wait_one(&ring) != 0) return 1;
  }
  double t2 = now();
  for (int i = 0; i < kN; ++i) {
    int fd = (int)syscall(SYS_openat2, dir, ".", &how, sizeof(how));
    if (fd < 0) return 1;
    close(fd);
  }
  double t3 = now();
  for (int i = 0; i < kN; ++i) {
    struct io_uring_sqe* sqe = io_uring_get_sqe(&ring);
    io_uring_prep_openat2(sqe, dir, ".", &how);
    int fd = wait_one(&ring);
    if (fd < 0) return 1;
    close(fd);
  }
  double t4 = now();
  printf("statx   direct %.2f us  io_uring %.2f us\n", (t1 - t0) / kN * 1e6, (t2 - t1) / kN * 1e6);
  printf("openat2 direct %.2f us  io_uring %.2f us (each with its close)\n", (t3 - t2) / kN * 1e6,
         (t4 - t3) / kN * 1e6);
  return 0;
}
