/*
 * STUN Binding load generator for `npm run bench:stun`.
 * UDP: several connected sockets, sendmmsg/recvmmsg batches, a bounded window of outstanding
 * requests per socket. TCP: several connections, each with a bounded window of pipelined
 * requests. Every response is validated: its transaction id must match an outstanding request,
 * and (unless --echo) it must be a Binding success response whose XOR-MAPPED-ADDRESS equals the
 * socket's own address. Prints one JSON line: responses/s, p50/p99 latency, lost, invalid, CPU.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_SOCKETS 64
#define MAX_WINDOW 1024
#define BATCH 64
#define MAX_DGRAM 1500
#define HIST_BUCKETS 200000 /* 1 microsecond buckets up to 200 ms */
#define LOSS_TIMEOUT_NS 1000000000LL
#define TCP_BUF 65536

struct slot { uint32_t seq; int busy; int64_t sent_ns; };
struct conn {
  int fd; struct sockaddr_in local; struct slot slots[MAX_WINDOW]; int outstanding; uint32_t next_seq;
  uint8_t rbuf[TCP_BUF]; size_t rlen;
};

static struct conn conns[MAX_SOCKETS];
static uint64_t hist[HIST_BUCKETS + 1];
static uint64_t responses, invalid, lost, sent, measured, closed;
static struct pollfd pfds[MAX_SOCKETS];
static int nsock = 8, window = 128, duration_s = 5, warmup_s = 1, tcp = 0, echo = 0;
static int64_t measure_from_ns;

static int64_t now_ns(void) {
  struct timespec ts; clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static double cpu_seconds(void) {
  struct rusage ru; getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

/* Transaction id: magic 'NTCP', socket index, slot index | sequence. */
static void build_request(uint8_t *p, int sock, int slot, uint32_t seq) {
  p[0] = 0x00; p[1] = 0x01; p[2] = 0; p[3] = 0;
  uint32_t cookie = htonl(0x2112a442); memcpy(p + 4, &cookie, 4);
  memcpy(p + 8, "NTCP", 4);
  uint16_t s = htons((uint16_t)sock), sl = htons((uint16_t)slot); uint32_t q = htonl(seq);
  memcpy(p + 12, &s, 2); memcpy(p + 14, &sl, 2); memcpy(p + 16, &q, 4);
}

static void record(int64_t latency_ns) {
  if (now_ns() < measure_from_ns) return;
  int64_t us = latency_ns / 1000;
  hist[us > HIST_BUCKETS ? HIST_BUCKETS : us]++;
  measured++;
}

/* Returns 1 when the response matches an outstanding request of `c` and carries our address. */
static int check_response(struct conn *c, int index, const uint8_t *p, size_t len) {
  if (len < 20 || memcmp(p + 8, "NTCP", 4) != 0) return 0;
  uint16_t s, sl; uint32_t q;
  memcpy(&s, p + 12, 2); memcpy(&sl, p + 14, 2); memcpy(&q, p + 16, 4);
  s = ntohs(s); sl = ntohs(sl); q = ntohl(q);
  if (s != index || sl >= window) return 0;
  struct slot *slot = &c->slots[sl];
  if (!slot->busy || slot->seq != q) return 0;
  int ok = 1;
  if (!echo) {
    uint32_t cookie; memcpy(&cookie, p + 4, 4);
    size_t body = ((size_t)p[2] << 8) | p[3];
    ok = p[0] == 0x01 && p[1] == 0x01 && ntohl(cookie) == 0x2112a442 && body + 20 == len;
    int found = 0;
    for (size_t off = 20; ok && off + 4 <= len;) {
      uint16_t type = (uint16_t)(p[off] << 8 | p[off + 1]), alen = (uint16_t)(p[off + 2] << 8 | p[off + 3]);
      if (off + 4 + alen > len) { ok = 0; break; }
      if (type == 0x0020 && alen == 8 && p[off + 5] == 0x01) {
        uint16_t port = (uint16_t)((p[off + 6] << 8 | p[off + 7]) ^ 0x2112);
        uint32_t addr; memcpy(&addr, p + off + 8, 4); addr ^= htonl(0x2112a442);
        found = port == ntohs(c->local.sin_port) && addr == c->local.sin_addr.s_addr;
      }
      off += 4 + ((alen + 3u) & ~3u);
    }
    ok = ok && found;
  }
  if (!ok) return 0;
  record(now_ns() - slot->sent_ns);
  slot->busy = 0; c->outstanding--;
  return 1;
}

static void expire(struct conn *c, int64_t now) {
  for (int i = 0; i < window; i++) {
    if (c->slots[i].busy && now - c->slots[i].sent_ns > LOSS_TIMEOUT_NS) { c->slots[i].busy = 0; c->outstanding--; lost++; }
  }
}

/* Fills every free slot of `c`; returns how many requests went out. */
static int fill_udp(struct conn *c, int index) {
  static uint8_t bufs[BATCH][20]; static struct iovec iov[BATCH]; static struct mmsghdr msgs[BATCH];
  int slots[BATCH], n = 0;
  int64_t t = now_ns();
  for (int i = 0; i < window && n < BATCH; i++) {
    if (c->slots[i].busy) continue;
    uint32_t seq = ++c->next_seq;
    build_request(bufs[n], index, i, seq);
    iov[n].iov_base = bufs[n]; iov[n].iov_len = 20;
    memset(&msgs[n], 0, sizeof msgs[n]); msgs[n].msg_hdr.msg_iov = &iov[n]; msgs[n].msg_hdr.msg_iovlen = 1;
    c->slots[i].seq = seq; c->slots[i].sent_ns = t;
    slots[n++] = i;
  }
  if (n == 0) return 0;
  int done = sendmmsg(c->fd, msgs, n, 0);
  if (done < 0) done = 0;
  for (int i = 0; i < done; i++) { c->slots[slots[i]].busy = 1; c->outstanding++; }
  sent += done;
  return done;
}

static void drain_udp(struct conn *c, int index) {
  static uint8_t bufs[BATCH][MAX_DGRAM]; static struct iovec iov[BATCH]; static struct mmsghdr msgs[BATCH];
  for (;;) {
    for (int i = 0; i < BATCH; i++) {
      iov[i].iov_base = bufs[i]; iov[i].iov_len = MAX_DGRAM;
      memset(&msgs[i], 0, sizeof msgs[i]); msgs[i].msg_hdr.msg_iov = &iov[i]; msgs[i].msg_hdr.msg_iovlen = 1;
    }
    int n = recvmmsg(c->fd, msgs, BATCH, MSG_DONTWAIT, NULL);
    if (n <= 0) return;
    for (int i = 0; i < n; i++) {
      if (check_response(c, index, bufs[i], msgs[i].msg_len)) responses++; else invalid++;
    }
    if (n < BATCH) return;
  }
}

/* The server closed (or broke) connection `index`: its outstanding requests are lost. */
static void drop_tcp(struct conn *c, int index) {
  close(c->fd); c->fd = -1; pfds[index].fd = -1;
  lost += (uint64_t)c->outstanding; c->outstanding = 0; closed++;
  for (int i = 0; i < window; i++) c->slots[i].busy = 0;
}

static int fill_tcp(struct conn *c, int index) {
  uint8_t out[MAX_WINDOW * 20]; int n = 0; int64_t t = now_ns();
  if (c->fd < 0) return 0;
  for (int i = 0; i < window; i++) {
    if (c->slots[i].busy) continue;
    uint32_t seq = ++c->next_seq;
    build_request(out + 20 * n, index, i, seq);
    c->slots[i].seq = seq; c->slots[i].sent_ns = t; c->slots[i].busy = 1; c->outstanding++;
    n++;
  }
  if (n == 0) return 0;
  size_t total = 20 * (size_t)n, off = 0;
  while (off < total) {
    ssize_t w = write(c->fd, out + off, total - off);
    if (w < 0) { if (errno == EAGAIN || errno == EINTR) continue; drop_tcp(c, index); return 0; }
    off += (size_t)w;
  }
  sent += n;
  return n;
}

static void drain_tcp(struct conn *c, int index) {
  for (;;) {
    ssize_t r = read(c->fd, c->rbuf + c->rlen, TCP_BUF - c->rlen);
    if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) { drop_tcp(c, index); return; }
    if (r < 0) return;
    c->rlen += (size_t)r;
    size_t off = 0;
    while (c->rlen - off >= 20) {
      size_t frame = 20 + (((size_t)c->rbuf[off + 2] << 8) | c->rbuf[off + 3]);
      if (c->rlen - off < frame) break;
      if (check_response(c, index, c->rbuf + off, frame)) responses++; else invalid++;
      off += frame;
    }
    memmove(c->rbuf, c->rbuf + off, c->rlen - off); c->rlen -= off;
  }
}

static void usage(void) {
  fprintf(stderr, "usage: stun-load --host IP --port N [--tcp] [--echo] [--sockets N] [--window N] [--duration S] [--warmup S]\n");
  exit(2);
}

int main(int argc, char **argv) {
  const char *host = "127.0.0.1"; int port = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--tcp")) tcp = 1;
    else if (!strcmp(argv[i], "--echo")) echo = 1;
    else if (i + 1 >= argc) usage();
    else if (!strcmp(argv[i], "--host")) host = argv[++i];
    else if (!strcmp(argv[i], "--port")) port = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--sockets")) nsock = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--window")) window = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--duration")) duration_s = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--warmup")) warmup_s = atoi(argv[++i]);
    else usage();
  }
  if (port <= 0 || nsock < 1 || nsock > MAX_SOCKETS || window < 1 || window > MAX_WINDOW) usage();
  struct sockaddr_in server = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
  if (inet_pton(AF_INET, host, &server.sin_addr) != 1) usage();
  signal(SIGPIPE, SIG_IGN);
  for (int i = 0; i < nsock; i++) {
    struct conn *c = &conns[i];
    c->fd = socket(AF_INET, tcp ? SOCK_STREAM : SOCK_DGRAM, 0);
    if (c->fd < 0) { perror("socket"); return 1; }
    int size = 4 << 20;
    setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    setsockopt(c->fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
    if (tcp) { int one = 1; setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one); }
    if (connect(c->fd, (struct sockaddr *)&server, sizeof server) < 0) { perror("connect"); return 1; }
    fcntl(c->fd, F_SETFL, O_NONBLOCK);
    socklen_t len = sizeof c->local;
    getsockname(c->fd, (struct sockaddr *)&c->local, &len);
    pfds[i].fd = c->fd; pfds[i].events = POLLIN;
  }
  int64_t start = now_ns();
  measure_from_ns = start + (int64_t)warmup_s * 1000000000LL;
  int64_t end = measure_from_ns + (int64_t)duration_s * 1000000000LL;
  uint64_t responses_at_warmup = 0; double cpu_at_warmup = 0; int warm = 0;
  int64_t last_expire = start;
  for (;;) {
    int64_t t = now_ns();
    if (!warm && t >= measure_from_ns) { warm = 1; responses_at_warmup = responses; cpu_at_warmup = cpu_seconds(); lost = 0; invalid = 0; }
    if (t >= end) break;
    for (int i = 0; i < nsock; i++) tcp ? fill_tcp(&conns[i], i) : fill_udp(&conns[i], i);
    if (poll(pfds, (nfds_t)nsock, 10) < 0 && errno != EINTR) { perror("poll"); return 1; }
    for (int i = 0; i < nsock; i++) {
      if (!(pfds[i].revents & POLLIN)) continue;
      tcp ? drain_tcp(&conns[i], i) : drain_udp(&conns[i], i);
    }
    if (t - last_expire > 100000000LL) { for (int i = 0; i < nsock; i++) expire(&conns[i], t); last_expire = t; }
    if (tcp && closed == (uint64_t)nsock) break;
  }
  double wall = (now_ns() - measure_from_ns) / 1e9;
  double cpu = cpu_seconds() - cpu_at_warmup;
  uint64_t counted = responses - responses_at_warmup;
  double p[2] = { 0.5, 0.99 }; double pv[2] = { 0, 0 };
  for (int k = 0; k < 2; k++) {
    uint64_t target = (uint64_t)(p[k] * (double)measured), acc = 0;
    for (int b = 0; b <= HIST_BUCKETS; b++) { acc += hist[b]; if (acc > target) { pv[k] = b; break; } }
  }
  uint64_t outstanding = 0;
  for (int i = 0; i < nsock; i++) outstanding += (uint64_t)conns[i].outstanding;
  printf("{\"transport\":\"%s\",\"responses\":%llu,\"rate\":%.0f,\"p50_us\":%.0f,\"p99_us\":%.0f,\"lost\":%llu,\"invalid\":%llu,"
         "\"outstanding_at_end\":%llu,\"generator_cpu\":%.2f,\"responses_total\":%llu,\"closed_connections\":%llu}\n",
         tcp ? "tcp" : "udp", (unsigned long long)counted, counted / wall, pv[0], pv[1], (unsigned long long)lost,
         (unsigned long long)invalid, (unsigned long long)outstanding, cpu / wall, (unsigned long long)responses, (unsigned long long)closed);
  return 0;
}
