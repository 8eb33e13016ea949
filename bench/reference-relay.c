// bench:relay's yardstick: the least a TCP relay can do on this machine. Each accepted connection
// is joined to a new connection to 127.0.0.1:PORT by two threads that move bytes with blocking
// splice(2) through a pipe, with no event loop, no limits and no bookkeeping. Whatever it loses
// against a direct stream is the cost of the extra hop itself, not of any relay's code.
// Usage: reference-relay PORT; prints its own listening port on stdout. Benchmark use only.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

struct direction {
  int from;
  int to;
};

static void *pump(void *arg) {
  struct direction *d = arg;
  int pipe_fds[2];
  if (pipe(pipe_fds) != 0) return NULL;
  for (;;) {
    ssize_t in = splice(d->from, NULL, pipe_fds[1], NULL, 1 << 20, SPLICE_F_MOVE);
    if (in <= 0) break;
    while (in > 0) {
      ssize_t out = splice(pipe_fds[0], NULL, d->to, NULL, (size_t)in, SPLICE_F_MOVE);
      if (out <= 0) goto done;
      in -= out;
    }
  }
  shutdown(d->to, SHUT_WR);
done:
  close(pipe_fds[0]);
  close(pipe_fds[1]);
  return NULL;
}

static void start(int from, int to) {
  struct direction *d = malloc(sizeof *d);
  pthread_t thread;
  d->from = from;
  d->to = to;
  if (pthread_create(&thread, NULL, pump, d) == 0) pthread_detach(thread);
}

int main(int argc, char **argv) {
  if (argc != 2) return 2;
  struct sockaddr_in address = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  int listener = socket(AF_INET, SOCK_STREAM, 0);
  if (bind(listener, (struct sockaddr *)&address, sizeof address) != 0 || listen(listener, 128) != 0) return 1;
  socklen_t length = sizeof address;
  getsockname(listener, (struct sockaddr *)&address, &length);
  printf("%d\n", ntohs(address.sin_port));
  fflush(stdout);
  struct sockaddr_in target = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[1])), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  for (;;) {
    int client = accept(listener, NULL, NULL);
    if (client < 0) continue;
    int upstream = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(upstream, (struct sockaddr *)&target, sizeof target) != 0) {
      close(client);
      close(upstream);
      continue;
    }
    start(client, upstream);
    start(upstream, client);
  }
}
