/*
 * delay-link: the lab's shaped links. This kernel has no netem qdisc, so a link with delay,
 * jitter or loss is a pair of TAP devices (one per namespace) joined by this forwarder, which
 * holds each frame for the configured one-way delay (+- jitter/2, never reordering) and drops
 * the configured share. One process serves every shaped link of a lab.
 *
 * usage: delay-link [--parent-death] LINK...
 *   LINK = NETNS_A,IF_A,NETNS_B,IF_B,ONE_WAY_DELAY_US,JITTER_US,LOSS_PPM
 *   (NETNS_* are paths such as /run/netns/ntlabc12-a)
 * Prints "ready" once every TAP exists. Exits on SIGTERM/SIGINT, when its parent dies
 * (--parent-death), or when one of its namespaces has been deleted.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_LINKS 128
#define MAX_FRAME 65536
#define MAX_QUEUED 20000           /* frames per direction; beyond this the link tail-drops */
#define NAMESPACE_CHECK_NS 1000000000LL

struct frame {
  struct frame *next;
  int64_t release_ns;
  size_t length;
  unsigned char data[];
};

struct direction {
  int from_fd, to_fd;
  struct frame *head, *tail;
  size_t queued;
  int64_t last_release_ns;
};

struct link {
  char *netns[2];
  char *ifname[2];
  int fd[2];
  int64_t delay_ns, jitter_ns;
  uint32_t loss_ppm;
  struct direction dir[2]; /* 0: a -> b, 1: b -> a */
};

static struct link links[MAX_LINKS];
static int link_count;
static volatile sig_atomic_t stopping;

static void on_signal(int signal_number) { (void)signal_number; stopping = 1; }

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void die(const char *what, const char *detail) {
  fprintf(stderr, "delay-link: %s %s: %s\n", what, detail ? detail : "", strerror(errno));
  exit(1);
}

static int open_tap(const char *netns, const char *ifname) {
  int ns = open(netns, O_RDONLY | O_CLOEXEC);
  if (ns < 0) die("open namespace", netns);
  if (setns(ns, CLONE_NEWNET) != 0) die("setns", netns);
  close(ns);
  int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) die("open /dev/net/tun in", netns);
  struct ifreq request;
  memset(&request, 0, sizeof request);
  request.ifr_flags = IFF_TAP | IFF_NO_PI;
  strncpy(request.ifr_name, ifname, IFNAMSIZ - 1);
  if (ioctl(fd, TUNSETIFF, &request) != 0) die("TUNSETIFF", ifname);
  return fd;
}

static int parse_link(char *spec, struct link *link) {
  char *fields[7];
  for (int i = 0; i < 7; i++) {
    fields[i] = strsep(&spec, ",");
    if (!fields[i]) return -1;
  }
  link->netns[0] = fields[0];
  link->ifname[0] = fields[1];
  link->netns[1] = fields[2];
  link->ifname[1] = fields[3];
  link->delay_ns = atoll(fields[4]) * 1000LL;
  link->jitter_ns = atoll(fields[5]) * 1000LL;
  link->loss_ppm = (uint32_t)strtoul(fields[6], NULL, 10);
  return spec == NULL ? 0 : -1;
}

/* xorshift64*: fast, seeded per process; good enough for loss and jitter. */
static uint64_t random_state;
static uint64_t next_random(void) {
  random_state ^= random_state >> 12;
  random_state ^= random_state << 25;
  random_state ^= random_state >> 27;
  return random_state * 2685821657736338717ULL;
}

static int is_arp(const unsigned char *data, size_t length) {
  return length >= 14 && data[12] == 0x08 && data[13] == 0x06;
}

static void enqueue(struct link *link, struct direction *dir, const unsigned char *data, size_t length, int64_t now) {
  /* Loss models the internet behind the link; ARP only exists because the lab joins hops by Ethernet. */
  if (link->loss_ppm && !is_arp(data, length) && (next_random() % 1000000) < link->loss_ppm) return;
  if (dir->queued >= MAX_QUEUED) return;
  struct frame *frame = malloc(sizeof *frame + length);
  if (!frame) return;
  int64_t jitter = link->jitter_ns ? (int64_t)(next_random() % (uint64_t)(link->jitter_ns + 1)) - link->jitter_ns / 2 : 0;
  int64_t release = now + link->delay_ns + jitter;
  if (release < dir->last_release_ns) release = dir->last_release_ns; /* keep order, like a real wire */
  dir->last_release_ns = release;
  frame->next = NULL;
  frame->release_ns = release;
  frame->length = length;
  memcpy(frame->data, data, length);
  if (dir->tail) dir->tail->next = frame; else dir->head = frame;
  dir->tail = frame;
  dir->queued++;
}

static void release_due(struct direction *dir, int64_t now) {
  while (dir->head && dir->head->release_ns <= now) {
    struct frame *frame = dir->head;
    if (write(dir->to_fd, frame->data, frame->length) < 0 && errno != EAGAIN && errno != EIO) {
      fprintf(stderr, "delay-link: write: %s\n", strerror(errno));
    }
    dir->head = frame->next;
    if (!dir->head) dir->tail = NULL;
    dir->queued--;
    free(frame);
  }
}

static int namespaces_exist(void) {
  struct stat info;
  for (int i = 0; i < link_count; i++) {
    for (int side = 0; side < 2; side++) {
      if (stat(links[i].netns[side], &info) != 0) return 0;
    }
  }
  return 1;
}

int main(int argc, char **argv) {
  int first = 1;
  if (argc > 1 && strcmp(argv[1], "--parent-death") == 0) {
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() == 1) return 0;
    first = 2;
  }
  for (int i = first; i < argc; i++) {
    if (link_count == MAX_LINKS || parse_link(argv[i], &links[link_count]) != 0) {
      fprintf(stderr, "delay-link: bad link \"%s\" (NETNS_A,IF_A,NETNS_B,IF_B,DELAY_US,JITTER_US,LOSS_PPM)\n", argv[i]);
      return 2;
    }
    link_count++;
  }
  if (link_count == 0) {
    fprintf(stderr, "usage: delay-link [--parent-death] NETNS_A,IF_A,NETNS_B,IF_B,DELAY_US,JITTER_US,LOSS_PPM ...\n");
    return 2;
  }
  random_state = (uint64_t)now_ns() ^ ((uint64_t)getpid() << 32) ^ 0x9e3779b97f4a7c15ULL;
  struct sigaction action;
  memset(&action, 0, sizeof action);
  action.sa_handler = on_signal;
  sigaction(SIGTERM, &action, NULL);
  sigaction(SIGINT, &action, NULL);
  signal(SIGPIPE, SIG_IGN);

  struct pollfd fds[MAX_LINKS * 2];
  for (int i = 0; i < link_count; i++) {
    struct link *link = &links[i];
    for (int side = 0; side < 2; side++) link->fd[side] = open_tap(link->netns[side], link->ifname[side]);
    for (int d = 0; d < 2; d++) {
      link->dir[d].from_fd = link->fd[d];
      link->dir[d].to_fd = link->fd[1 - d];
    }
    fds[2 * i].fd = link->fd[0];
    fds[2 * i + 1].fd = link->fd[1];
    fds[2 * i].events = fds[2 * i + 1].events = POLLIN;
  }
  printf("ready\n");
  fflush(stdout);

  static unsigned char buffer[MAX_FRAME];
  int64_t next_check = now_ns() + NAMESPACE_CHECK_NS;
  while (!stopping) {
    int64_t now = now_ns();
    int64_t wake = next_check;
    for (int i = 0; i < link_count; i++) {
      for (int d = 0; d < 2; d++) {
        struct frame *head = links[i].dir[d].head;
        if (head && head->release_ns < wake) wake = head->release_ns;
      }
    }
    int64_t wait = wake > now ? wake - now : 0;
    struct timespec timeout = { .tv_sec = wait / 1000000000LL, .tv_nsec = wait % 1000000000LL };
    int ready = ppoll(fds, (nfds_t)(link_count * 2), &timeout, NULL);
    if (ready < 0 && errno != EINTR) die("ppoll", NULL);
    now = now_ns();
    for (int i = 0; ready > 0 && i < link_count * 2; i++) {
      if (!(fds[i].revents & POLLIN)) continue;
      struct link *link = &links[i / 2];
      struct direction *dir = &link->dir[i % 2];
      for (;;) {
        ssize_t length = read(fds[i].fd, buffer, sizeof buffer);
        if (length <= 0) break;
        enqueue(link, dir, buffer, (size_t)length, now);
      }
    }
    for (int i = 0; i < link_count; i++) {
      release_due(&links[i].dir[0], now);
      release_due(&links[i].dir[1], now);
    }
    if (now >= next_check) {
      if (!namespaces_exist()) break;
      next_check = now + NAMESPACE_CHECK_NS;
    }
  }
  return 0;
}
