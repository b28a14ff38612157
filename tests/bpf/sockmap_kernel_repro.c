// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * sockmap_kernel_repro - shows, on the running kernel, why the xsmb sockhash runs its verdict
 * without the kernel's stream parser (docs/bpf.md, "Why no stream parser"). No xsmb code: two
 * one-instruction BPF programs, a TCP connection on the loopback of a private network
 * namespace, and a reader that reads as xsmbd does (poll, then recv).
 *
 * Each scenario runs twice, on a sockhash with a stream parser + verdict (SK_PASS) and on one
 * with the verdict alone (SK_PASS):
 *   late-reader   A and B arrive while the reader has not read A yet; it then reads both;
 *                 then C (small) arrives. With the parser, kernels 6.14+ (and the stable
 *                 backports of "bpf: fix wrong copied_seq calculation") leave copied_seq
 *                 beyond rcv_nxt, so C wakes nobody: it is delivered only when later data
 *                 pushes rcv_nxt past copied_seq (D).
 *   big-message   one 5 MiB message. With the parser and the default receive buffer the
 *                 strparser waits for the whole message in the receive queue while poll
 *                 reports the socket readable and recv finds nothing (a busy loop for an
 *                 event-driven reader). With a receive buffer large enough, the message is
 *                 one skb chain of more than MAX_SKB_FRAGS pieces, which the kernel must
 *                 linearize with one atomic allocation, impossible above KMALLOC_MAX_SIZE
 *                 (4 MiB with 4 KiB pages): it is retried forever and never delivered.
 *
 * Output: one line per scenario and mode. Exit status: 0 when the verdict-only mode (the one
 * xsmb uses) delivers everything promptly, 1 when it does not, 77 (skip) without privilege.
 * The parser mode's outcome is reported, not asserted: it documents the kernel.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <errno.h>
#include <linux/bpf.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SKIP 77

/* r0 = skb->len; exit: every skb the parser sees is one whole message. */
static const struct bpf_insn kParseWholeSkb[] = {
	{.code = BPF_LDX | BPF_MEM | BPF_W, .dst_reg = BPF_REG_0, .src_reg = BPF_REG_1, .off = 0},
	{.code = BPF_JMP | BPF_EXIT},
};
/* r0 = SK_PASS; exit. */
static const struct bpf_insn kPass[] = {
	{.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = SK_PASS},
	{.code = BPF_JMP | BPF_EXIT},
};
/* r2 = 0; r3 = fp - 8; r4 = 4; call bpf_skb_load_bytes; if r0 != 0 return 0;
 * r0 = 4 + 24-bit big-endian length at bytes 1..3; exit: NetBIOS framing at offset 0. */
static const struct bpf_insn kParseNetbios[] = {
	{.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_2, .imm = 0},
	{.code = BPF_ALU64 | BPF_MOV | BPF_X, .dst_reg = BPF_REG_3, .src_reg = BPF_REG_10},
	{.code = BPF_ALU64 | BPF_ADD | BPF_K, .dst_reg = BPF_REG_3, .imm = -8},
	{.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_4, .imm = 4},
	{.code = BPF_JMP | BPF_CALL, .imm = BPF_FUNC_skb_load_bytes},
	{.code = BPF_JMP | BPF_JEQ | BPF_K, .dst_reg = BPF_REG_0, .off = 2, .imm = 0},
	{.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0},
	{.code = BPF_JMP | BPF_EXIT},
	{.code = BPF_LDX | BPF_MEM | BPF_W, .dst_reg = BPF_REG_0, .src_reg = BPF_REG_10, .off = -8},
	{.code = BPF_ALU | BPF_END | BPF_TO_BE, .dst_reg = BPF_REG_0, .imm = 32},
	{.code = BPF_ALU64 | BPF_AND | BPF_K, .dst_reg = BPF_REG_0, .imm = 0xffffff},
	{.code = BPF_ALU64 | BPF_ADD | BPF_K, .dst_reg = BPF_REG_0, .imm = 4},
	{.code = BPF_JMP | BPF_EXIT},
};

static int load(const struct bpf_insn *insns, size_t n)
{
	char log[4096] = "";
	LIBBPF_OPTS(bpf_prog_load_opts, o, .log_buf = log, .log_size = sizeof(log), .log_level = 0);
	int fd = bpf_prog_load(BPF_PROG_TYPE_SK_SKB, NULL, "GPL", insns, n, &o);

	if (fd < 0)
		fprintf(stderr, "loading a program: %s\n%s", strerror(errno), log);
	return fd;
}

/* A sockhash with the verdict, and the parser when parser >= 0; -1 on failure. */
static int make_map(int parser, int verdict)
{
	int map = bpf_map_create(BPF_MAP_TYPE_SOCKHASH, NULL, 4, 4, 4, NULL);

	if (map < 0)
		return -1;
	if ((parser >= 0 && bpf_prog_attach(parser, map, BPF_SK_SKB_STREAM_PARSER, 0)) ||
	    bpf_prog_attach(verdict, map, BPF_SK_SKB_STREAM_VERDICT, 0)) {
		close(map);
		return -1;
	}
	return map;
}

/* Receive buffer forced on the server socket before it enters the map; 0 = the default. */
static int g_rcvbuf;

/* A connected loopback pair; *srv is put into the map. 0 or -1. */
static int connect_pair(int map, int *cli, int *srv)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);
	int l = socket(AF_INET, SOCK_STREAM, 0), key = 0, r = -1;

	if (l < 0 || bind(l, (void *)&a, sizeof(a)) || listen(l, 1) ||
	    getsockname(l, (void *)&a, &al))
		goto out;
	*cli = socket(AF_INET, SOCK_STREAM, 0);
	if (*cli < 0 || connect(*cli, (void *)&a, sizeof(a)))
		goto out;
	*srv = accept(l, NULL, NULL);
	if (*srv < 0 ||
	    (g_rcvbuf && setsockopt(*srv, SOL_SOCKET, SO_RCVBUFFORCE, &g_rcvbuf, sizeof(g_rcvbuf))))
		goto out;
	r = bpf_map_update_elem(map, &key, srv, BPF_NOEXIST);
out:
	if (l >= 0)
		close(l);
	return r;
}

static void send_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, 0);

		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

static long now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Reads until `want` bytes came or timeout_ms passed; returns the bytes read. Counts in
 * *spurious the wakeups that found nothing to read (poll said readable, recv EAGAIN). */
static size_t read_for(int fd, size_t want, int timeout_ms, long *spurious)
{
	static char buf[1 << 16];
	long end = now_ms() + timeout_ms;
	size_t got = 0;

	while (got < want && now_ms() < end) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t r;

		if (poll(&p, 1, (int)(end - now_ms())) <= 0)
			break;
		r = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (r == 0 || (r < 0 && errno != EAGAIN))
			break;
		if (r > 0)
			got += (size_t)r;
		else if (spurious)
			(*spurious)++;
	}
	return got;
}

/* Returns 1 when C arrived within a second of being sent, 0 when not, -1 on setup failure. */
static int late_reader(int map)
{
	static char a[1000], b[1000], c[100], d[2000];
	int cli, srv, prompt;
	struct pollfd p;

	if (connect_pair(map, &cli, &srv))
		return -1;
	send_all(cli, a, sizeof(a));
	p = (struct pollfd){.fd = srv, .events = POLLIN};
	poll(&p, 1, 1000); /* A is queued for the reader, who does not read it yet */
	send_all(cli, b, sizeof(b));
	usleep(100 * 1000);
	read_for(srv, sizeof(a) + sizeof(b), 1000, NULL);
	send_all(cli, c, sizeof(c));
	prompt = read_for(srv, sizeof(c), 1000, NULL) == sizeof(c);
	if (!prompt) { /* more data moves rcv_nxt past copied_seq: C and D arrive together */
		send_all(cli, d, sizeof(d));
		read_for(srv, sizeof(c) + sizeof(d), 1000, NULL);
	}
	close(cli);
	close(srv);
	return prompt;
}

/* Returns 1 when one 5 MiB NetBIOS message arrived whole within 3 s, 0 when not. */
static int big_message(int map)
{
	const size_t len = 5u << 20;
	char *m = calloc(1, len + 4);
	int cli, srv, whole;
	long spurious = 0;
	pid_t child;

	if (!m || connect_pair(map, &cli, &srv)) {
		free(m);
		return -1;
	}
	m[1] = (char)(len >> 16);
	m[2] = (char)(len >> 8);
	m[3] = (char)len;
	child = fork();
	if (child == 0) {
		send_all(cli, m, len + 4);
		_exit(0);
	}
	whole = read_for(srv, len + 4, 3000, &spurious) == len + 4;
	if (!whole && spurious)
		printf("  (the reader was woken %ld times in 3 s with nothing to read: poll "
		       "readable, recv EAGAIN)\n", spurious);
	close(cli);
	close(srv);
	if (child > 0) { /* a sender blocked on a full window stays blocked */
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
	}
	free(m);
	return whole;
}

static int lo_up(void)
{
	struct ifreq ifr = {0};
	int s = socket(AF_INET, SOCK_DGRAM, 0), r;

	strcpy(ifr.ifr_name, "lo");
	r = s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) ? -1 : 0;
	ifr.ifr_flags |= IFF_UP;
	if (!r)
		r = ioctl(s, SIOCSIFFLAGS, &ifr);
	if (s >= 0)
		close(s);
	return r;
}

int main(void)
{
	int whole_skb, netbios, pass, r = 0;
	const char *yes = "delivered", *no = "NOT delivered (kernel defect)";

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (geteuid() != 0 || unshare(CLONE_NEWNET) || lo_up()) {
		printf("SKIP: needs root (network namespace, BPF)\n");
		return SKIP;
	}
	whole_skb = load(kParseWholeSkb, 2);
	netbios = load(kParseNetbios, sizeof(kParseNetbios) / sizeof(kParseNetbios[0]));
	pass = load(kPass, 2);
	if (whole_skb < 0 || netbios < 0 || pass < 0) {
		printf("SKIP: sk_skb programs not permitted\n");
		return SKIP;
	}
	struct {
		const char *name;
		int (*run)(int map);
		int parser;
		int rcvbuf;
	} scenarios[] = {
		{"late-reader", late_reader, whole_skb, 0},
		{"big-message, default receive buffer", big_message, netbios, 0},
		{"big-message, 16 MiB receive buffer", big_message, netbios, 16 << 20},
	};
	for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++) {
		int with = make_map(scenarios[i].parser, pass), without = make_map(-1, pass);
		int a, b;

		if (with < 0 || without < 0) {
			printf("SKIP: cannot build sockhashes: %s\n", strerror(errno));
			return SKIP;
		}
		g_rcvbuf = scenarios[i].rcvbuf;
		a = scenarios[i].run(with);
		b = scenarios[i].run(without);
		printf("%s: stream parser + verdict: %s; verdict alone: %s\n", scenarios[i].name,
		       a == 1 ? yes : a == 0 ? no : "setup failed", b == 1 ? yes : "NOT delivered");
		if (b != 1)
			r = 1;
		close(with);
		close(without);
	}
	return r;
}
