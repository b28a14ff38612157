// Receive-path probe behind docs/performance.md "Zero-copy receive of WRITE data": one loopback
// TCP stream of 4 GiB sent in 1 MiB messages, received either by recv + pwrite (mode 0) or by
// splice into a 1 MiB pipe and splice from it to the file (mode 1); prints throughput and the
// receiver's CPU time. Not built by CMake (a measurement, not a test):
//   cc -O2 -o /tmp/recv_splice_probe tools/bench/recv_splice_probe.c
//   sync; /tmp/recv_splice_probe 0 /var/tmp/probe.bin; sync; /tmp/recv_splice_probe 1 /var/tmp/probe.bin
// The file is rewritten in place (1 GiB); traffic stays on 127.0.0.1.
#define _GNU_SOURCE
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <time.h>
#define MSG (1<<20)
#define TOTAL (4096L<<20)
static void check(int ok, const char* what) {
  if (!ok) { perror(what); exit(1); }
}
int main(int argc, char** argv) {
  if (argc != 3) { fprintf(stderr, "usage: %s 0|1 FILE\n", argv[0]); return 2; }
  int mode = atoi(argv[1]);  // 0 recv+pwrite, 1 splice
  int l = socket(AF_INET, SOCK_STREAM, 0);
  check(l >= 0, "socket");
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001)};
  check(bind(l, (void*)&a, sizeof a) == 0 && listen(l, 1) == 0, "bind/listen");
  socklen_t al = sizeof a; check(getsockname(l, (void*)&a, &al) == 0, "getsockname");
  if (fork() == 0) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    check(s >= 0 && connect(s, (void*)&a, sizeof a) == 0, "connect");
    char* buf = malloc(MSG); memset(buf, 7, MSG);
    for (long done = 0; done < TOTAL; done += MSG) {
      size_t off = 0; while (off < MSG) { ssize_t n = write(s, buf + off, MSG - off); if (n <= 0) exit(1); off += n; }
    }
    exit(0);
  }
  int c = accept(l, 0, 0);
  check(c >= 0, "accept");
  int f = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0644);
  check(f >= 0, argv[2]);
  char* buf = malloc(MSG);
  check(buf != NULL, "malloc");
  int p[2];
  check(pipe(p) == 0 && fcntl(p[1], F_SETPIPE_SZ, MSG) >= MSG, "pipe of 1 MiB");
  struct timespec t0, t1; clock_gettime(CLOCK_MONOTONIC, &t0);
  long off = 0;
  while (off < TOTAL) {
    long fo = off % (1L << 30);
    if (mode == 0) {
      size_t got = 0;
      while (got < MSG) { ssize_t n = recv(c, buf + got, MSG - got, MSG_WAITALL); if (n <= 0) { perror("recv"); return 1; } got += n; }
      if (pwrite(f, buf, MSG, fo) != MSG) { perror("pwrite"); return 1; }
    } else {
      size_t got = 0;
      while (got < MSG) { ssize_t n = splice(c, 0, p[1], 0, MSG - got, SPLICE_F_MOVE); if (n <= 0) { perror("splice in"); return 1; } got += n; }
      loff_t o = fo; size_t put = 0;
      while (put < MSG) { ssize_t n = splice(p[0], 0, f, &o, MSG - put, SPLICE_F_MOVE); if (n <= 0) { perror("splice out"); return 1; } put += n; }
    }
    off += MSG;
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  struct rusage ru; getrusage(RUSAGE_SELF, &ru);
  double el = t1.tv_sec - t0.tv_sec + (t1.tv_nsec - t0.tv_nsec) / 1e9;
  printf("mode %d: %.0f MB/s, receiver cpu user %.2f sys %.2f s\n", mode, TOTAL / 1e6 / el, ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6, ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6);
  wait(0);
}
