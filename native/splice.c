// Kernel splice relay for ntcp's built-in relay (src/relay/kernel-splice.ts).
//
// Moves bytes between two connected TCP sockets with splice(2) through one pipe per direction, so
// payload never crosses into user space. Driven by Node's own libuv loop (uv_poll_t per socket,
// uv_timer_t for the token bucket and for bounded-rate activity reports): no threads.
//
// The relay owns dup()s of the two sockets; Node closes its own descriptors right after start()
// returns. Closing Node's descriptor sends nothing while the dup keeps the socket open.
//
// Per direction (src -> dst): write the head bytes JS handed over (attach reply, early bytes), then
// loop { drain the pipe into dst; fill the pipe from src }. The pipe is always empty before a fill,
// so EAGAIN on a fill means src has nothing, and EAGAIN on a drain means dst is full: the direction
// then waits on that one event, which is the backpressure (at most one pipe of bytes in flight).
// EOF from src becomes shutdown(dst, SHUT_WR) once the pipe is empty; any error resets both
// sockets (SO_LINGER 0), so a truncated stream never looks like a clean end.
#ifndef NAPI_VERSION
#define NAPI_VERSION 8
#endif
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <node_api.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

// The smallest fill while rate limited: a bucket close to empty still moves a useful amount.
#define MIN_LIMITED_FILL (16 * 1024)
// Fill/drain rounds per event, so one busy session cannot starve the rest of the loop.
#define ROUNDS_PER_EVENT 8
#define HANDLES_PER_RELAY 5
// How long a direction waits before trying again for a pipe when descriptors ran out.
#define PIPE_RETRY_MS 100

enum wait_state { WAIT_IN, WAIT_OUT, WAIT_RATE, DIRECTION_DONE };
enum outcome { OUTCOME_ACTIVE = 0, OUTCOME_CLOSED = 1, OUTCOME_VANISHED = 2 };

typedef struct relay relay_t;

typedef struct {
  relay_t *relay;
  int src, dst;  // indexes into relay->fds
  int pipe_r, pipe_w;
  size_t pipe_size;
  size_t in_pipe;
  char *head;
  size_t head_len, head_off;
  enum wait_state wait;
  int rate_blocked;
  int limited;
  double tokens, rate_per_ms, burst, refilled_at;
  uv_timer_t rate_timer;
  uint64_t bytes;
} direction_t;

struct relay {
  napi_env env;
  napi_ref callback;
  napi_async_context async;
  uv_loop_t *loop;
  int fds[2];
  uv_poll_t polls[2];
  int polled[2];
  direction_t dirs[2];
  uv_timer_t report_timer;
  uint64_t report_ms;
  int report_pending;
  int finished;
  int open_handles;
  int js_released;
  char failure[96];
};

static double now_ms(void) { return (double)uv_hrtime() / 1e6; }

static void maybe_free(relay_t *r) {
  if (r->open_handles > 0 || !r->js_released) return;
  free(r->dirs[0].head);
  free(r->dirs[1].head);
  free(r);
}

static void handle_closed(relay_t *r) {
  r->open_handles--;
  maybe_free(r);
}

static void on_handle_closed(uv_handle_t *handle) { handle_closed(handle->data); }

// A rate timer's data is its direction (the timer callback needs it), not the relay.
static void on_rate_timer_closed(uv_handle_t *handle) { handle_closed(((direction_t *)handle->data)->relay); }

static void call_js(relay_t *r, int outcome) {
  napi_env env = r->env;
  if (r->callback == NULL) return;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value cb, recv, argv[4], result;
  napi_get_reference_value(env, r->callback, &cb);
  napi_get_global(env, &recv);
  napi_create_int32(env, outcome, &argv[0]);
  napi_create_double(env, (double)r->dirs[0].bytes, &argv[1]);
  napi_create_double(env, (double)r->dirs[1].bytes, &argv[2]);
  if (r->failure[0] != '\0') napi_create_string_utf8(env, r->failure, NAPI_AUTO_LENGTH, &argv[3]);
  else napi_get_undefined(env, &argv[3]);
  if (napi_make_callback(env, r->async, recv, cb, 4, argv, &result) == napi_pending_exception) {
    napi_value error;
    napi_get_and_clear_last_exception(env, &error);
    napi_fatal_exception(env, error);
  }
  napi_close_handle_scope(env, scope);
}

static void close_fd(int *fd) {
  if (*fd >= 0) close(*fd);
  *fd = -1;
}

// Ends the relay once: stops every handle, closes the sockets (reset when `reset`), then tells JS
// unless JS asked for the end itself.
static void finish(relay_t *r, int reset, int notify) {
  if (r->finished) return;
  r->finished = 1;
  for (int i = 0; i < 2; i++) {
    // The poll handle must stop before its descriptor closes (libuv would poll a reused number).
    uv_close((uv_handle_t *)&r->polls[i], on_handle_closed);
    uv_close((uv_handle_t *)&r->dirs[i].rate_timer, on_rate_timer_closed);
    if (reset) {
      struct linger linger = {1, 0};
      setsockopt(r->fds[i], SOL_SOCKET, SO_LINGER, &linger, sizeof linger);
    }
    close_fd(&r->fds[i]);
    close_fd(&r->dirs[i].pipe_r);
    close_fd(&r->dirs[i].pipe_w);
  }
  uv_close((uv_handle_t *)&r->report_timer, on_handle_closed);
  if (notify) call_js(r, reset ? OUTCOME_VANISHED : OUTCOME_CLOSED);
  napi_delete_reference(r->env, r->callback);
  r->callback = NULL;
  napi_async_destroy(r->env, r->async);
}

static void fail(relay_t *r, int err, const char *what, int side) {
  snprintf(r->failure, sizeof r->failure, "%s: %s on peer %d", uv_err_name(-err), what, side);
  finish(r, 1, 1);
}

static void on_report(uv_timer_t *timer) {
  relay_t *r = timer->data;
  r->report_pending = 0;
  if (!r->finished) call_js(r, OUTCOME_ACTIVE);
}

static void count(relay_t *r, direction_t *d, size_t bytes) {
  d->bytes += bytes;
  if (r->report_pending) return;
  r->report_pending = 1;
  uv_timer_start(&r->report_timer, on_report, r->report_ms, 0);
}

// The pipe keeps its default size (64 KiB on Linux). Grown to 1 MiB for bulk streams, the kernel
// splice fell behind the JS splice in 2 of 3 bench:relay runs on a busy 2-core machine; at 64 KiB it
// was ahead in 3 of 3, with the same CPU per GiB.
static int open_pipe(direction_t *d) {
  int fds[2];
  if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) return -errno;
  d->pipe_r = fds[0];
  d->pipe_w = fds[1];
  int size = fcntl(fds[1], F_GETPIPE_SZ);
  d->pipe_size = size > 0 ? (size_t)size : 65536;
  return 0;
}

static void refill(direction_t *d) {
  double now = now_ms();
  d->tokens = fmin(d->burst, d->tokens + (now - d->refilled_at) * d->rate_per_ms);
  d->refilled_at = now;
}

static void update_polls(relay_t *r);
static void pump(direction_t *d);
static void on_poll(uv_poll_t *poll, int status, int events);

static void on_rate(uv_timer_t *timer) {
  direction_t *d = timer->data;
  relay_t *r = d->relay;
  d->rate_blocked = 0;
  if (r->finished || d->wait != WAIT_RATE) return;
  d->wait = WAIT_IN;
  pump(d);
  if (!r->finished) update_polls(r);
}

// Returns 0 when the caller must return (waiting, or the relay finished).
static int write_head(direction_t *d) {
  relay_t *r = d->relay;
  while (d->head_off < d->head_len) {
    ssize_t n = send(r->fds[d->dst], d->head + d->head_off, d->head_len - d->head_off, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n >= 0) {
      d->head_off += (size_t)n;
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      d->wait = WAIT_OUT;
      return 0;
    } else if (errno != EINTR) {
      fail(r, errno, "send", d->dst);
      return 0;
    }
  }
  return 1;
}

static int drain(direction_t *d) {
  relay_t *r = d->relay;
  while (d->in_pipe > 0) {
    ssize_t n = splice(d->pipe_r, NULL, r->fds[d->dst], NULL, d->in_pipe, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    if (n > 0) {
      d->in_pipe -= (size_t)n;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      d->wait = WAIT_OUT;
      return 0;
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      fail(r, n < 0 ? errno : EPIPE, "splice to", d->dst);
      return 0;
    }
  }
  return 1;
}

// Fills the (empty) pipe from src. Returns 1 to go on, 0 when the caller must return.
static int fill(direction_t *d) {
  relay_t *r = d->relay;
  size_t want = d->pipe_size;
  if (d->limited) {
    refill(d);
    if (d->tokens < (double)want) want = d->tokens < MIN_LIMITED_FILL ? MIN_LIMITED_FILL : (size_t)d->tokens;
  }
  ssize_t n = splice(r->fds[d->src], NULL, d->pipe_w, NULL, want, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
  if (n > 0) {
    d->in_pipe = (size_t)n;
    count(r, d, (size_t)n);
    if (d->limited) {
      d->tokens -= (double)n;
      if (d->tokens < 0) {
        d->rate_blocked = 1;
        uv_timer_start(&d->rate_timer, on_rate, (uint64_t)ceil(-d->tokens / d->rate_per_ms), 0);
      }
    }
    return 1;
  }
  if (n == 0) {
    // FIN from src: the pipe is empty, so everything before it has reached dst.
    if (shutdown(r->fds[d->dst], SHUT_WR) != 0 && errno != ENOTCONN) {
      fail(r, errno, "shutdown", d->dst);
      return 0;
    }
    d->wait = DIRECTION_DONE;
    // A half-closed direction needs its pipe no more; its descriptors go back now.
    close_fd(&d->pipe_r);
    close_fd(&d->pipe_w);
    if (r->dirs[0].wait == DIRECTION_DONE && r->dirs[1].wait == DIRECTION_DONE) finish(r, 0, 1);
    return 0;
  }
  if (errno == EAGAIN || errno == EWOULDBLOCK) {
    d->wait = WAIT_IN;
    return 0;
  }
  if (errno == EINTR) return 1;
  fail(r, errno, "splice from", d->src);
  return 0;
}

static void pump(direction_t *d) {
  relay_t *r = d->relay;
  if (!write_head(d)) return;
  if (d->pipe_r < 0) {
    // A direction gets its pipe with its first byte (or FIN), so an idle session holds 2
    // descriptors, not 6. Until then a peek tells whether there is anything to move.
    char probe;
    if (recv(r->fds[d->src], &probe, 1, MSG_PEEK | MSG_DONTWAIT) < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      d->wait = WAIT_IN;
      return;
    }
    int err = open_pipe(d);
    if (err == -EMFILE || err == -ENFILE || err == -ENOMEM) {
      // Out of descriptors for now: the bytes wait in the kernel (flow control) and we try again;
      // a session that never gets a pipe ends at the idle timeout instead of being reset.
      d->rate_blocked = 1;
      d->wait = WAIT_RATE;
      uv_timer_start(&d->rate_timer, on_rate, PIPE_RETRY_MS, 0);
      return;
    }
    if (err != 0) {
      fail(r, -err, "pipe for", d->src);
      return;
    }
  }
  for (int round = 0; round < ROUNDS_PER_EVENT; round++) {
    if (!drain(d)) return;
    if (d->rate_blocked) {
      d->wait = WAIT_RATE;
      return;
    }
    if (!fill(d)) return;
  }
  // Out of rounds with bytes possibly still in the pipe: finish the drain; then src is still
  // readable and the level-triggered poll brings us back on the next loop turn.
  if (!drain(d)) return;
  d->wait = d->rate_blocked ? WAIT_RATE : WAIT_IN;
}

static void update_polls(relay_t *r) {
  for (int i = 0; i < 2; i++) {
    int events = 0;
    if (r->dirs[i].wait == WAIT_IN) events |= UV_READABLE;       // direction i reads socket i
    if (r->dirs[1 - i].wait == WAIT_OUT) events |= UV_WRITABLE;  // direction 1-i writes socket i
    if (events == r->polled[i]) continue;
    r->polled[i] = events;
    if (events == 0) uv_poll_stop(&r->polls[i]);
    else uv_poll_start(&r->polls[i], events, on_poll);
  }
}

static int socket_error(int fd, int fallback) {
  int error = 0;
  socklen_t length = sizeof error;
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) == 0 && error != 0) return error;
  return fallback;
}

static void on_poll(uv_poll_t *poll, int status, int events) {
  relay_t *r = poll->data;
  int i = poll == &r->polls[0] ? 0 : 1;
  if (r->finished) return;
  if (status < 0) {
    fail(r, socket_error(r->fds[i], -status), "poll", i);
    return;
  }
  if ((events & UV_READABLE) && r->dirs[i].wait == WAIT_IN) pump(&r->dirs[i]);
  if (r->finished) return;
  if ((events & UV_WRITABLE) && r->dirs[1 - i].wait == WAIT_OUT) pump(&r->dirs[1 - i]);
  if (r->finished) return;
  update_polls(r);
}

static void on_external_gone(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  relay_t *r = data;
  r->js_released = 1;
  maybe_free(r);
}

static napi_value throw_error(napi_env env, const char *code, const char *message) {
  napi_throw_error(env, code, message);
  return NULL;
}

static int copy_head(napi_env env, napi_value value, direction_t *d) {
  bool is_buffer = false;
  napi_is_buffer(env, value, &is_buffer);
  if (!is_buffer) return 1;
  void *data;
  size_t length;
  if (napi_get_buffer_info(env, value, &data, &length) != napi_ok) return 0;
  if (length == 0) return 1;
  d->head = malloc(length);
  if (d->head == NULL) return 0;
  memcpy(d->head, data, length);
  d->head_len = length;
  return 1;
}

// start(fd0, fd1, headTo0, headTo1, bytesPerSecond, burstBytes, reportMs, callback) -> handle
// callback(outcome 0 active | 1 closed | 2 vanished, bytesFrom0, bytesFrom1, failure?)
static napi_value start(napi_env env, napi_callback_info info) {
  size_t argc = 8;
  napi_value argv[8];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 8) return throw_error(env, "ERR_INVALID_ARGUMENT", "splice start needs 8 arguments");
  int32_t fds[2];
  double rate, burst;
  uint32_t report_ms;
  napi_valuetype cb_type;
  napi_typeof(env, argv[7], &cb_type);
  if (napi_get_value_int32(env, argv[0], &fds[0]) != napi_ok || napi_get_value_int32(env, argv[1], &fds[1]) != napi_ok ||
      napi_get_value_double(env, argv[4], &rate) != napi_ok || napi_get_value_double(env, argv[5], &burst) != napi_ok ||
      napi_get_value_uint32(env, argv[6], &report_ms) != napi_ok || cb_type != napi_function || fds[0] < 0 || fds[1] < 0 ||
      !(rate > 0) || !(burst > 0)) {
    return throw_error(env, "ERR_INVALID_ARGUMENT", "splice start: bad arguments");
  }

  relay_t *r = calloc(1, sizeof *r);
  if (r == NULL) return throw_error(env, "ERR_RELAY_SPLICE", "out of memory");
  r->env = env;
  r->report_ms = report_ms;
  r->fds[0] = r->fds[1] = -1;
  for (int i = 0; i < 2; i++) {
    direction_t *d = &r->dirs[i];
    d->relay = r;
    d->src = i;
    d->dst = 1 - i;
    d->pipe_r = d->pipe_w = -1;
    d->limited = isfinite(rate) && rate < 1e15;
    d->rate_per_ms = rate / 1000.0;
    d->burst = burst;
    d->tokens = burst;
    d->refilled_at = now_ms();
  }
  // head i goes to socket i, i.e. it leads direction 1-i.
  if (!copy_head(env, argv[2], &r->dirs[1]) || !copy_head(env, argv[3], &r->dirs[0])) {
    free(r->dirs[0].head);
    free(r->dirs[1].head);
    free(r);
    return throw_error(env, "ERR_RELAY_SPLICE", "cannot copy the head bytes");
  }
  int err = 0;
  for (int i = 0; i < 2 && err == 0; i++) {
    r->fds[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 0);
    if (r->fds[i] < 0) err = errno;
    else if (fcntl(r->fds[i], F_SETFL, fcntl(r->fds[i], F_GETFL) | O_NONBLOCK) != 0) err = errno;
  }
  if (err == 0 && napi_get_uv_event_loop(env, &r->loop) != napi_ok) err = EINVAL;
  int polls_ready = 0;
  for (int i = 0; i < 2 && err == 0; i++) {
    err = -uv_poll_init_socket(r->loop, &r->polls[i], r->fds[i]);
    if (err == 0) polls_ready++;
  }
  if (err != 0) {
    // A poll handle closes through the loop (then frees the relay) before its descriptor closes.
    r->js_released = 1;
    r->open_handles = polls_ready;
    for (int i = 0; i < polls_ready; i++) {
      r->polls[i].data = r;
      uv_close((uv_handle_t *)&r->polls[i], on_handle_closed);
    }
    for (int i = 0; i < 2; i++) close_fd(&r->fds[i]);
    if (polls_ready == 0) maybe_free(r);
    char message[96];
    snprintf(message, sizeof message, "cannot take over the sockets: %s", uv_err_name(-err));
    return throw_error(env, "ERR_RELAY_SPLICE", message);
  }

  napi_value resource_name, handle;
  napi_create_string_utf8(env, "ntcp:kernel-splice", NAPI_AUTO_LENGTH, &resource_name);
  napi_async_init(env, NULL, resource_name, &r->async);
  napi_create_reference(env, argv[7], 1, &r->callback);
  for (int i = 0; i < 2; i++) {
    r->polls[i].data = r;
    uv_timer_init(r->loop, &r->dirs[i].rate_timer);
    r->dirs[i].rate_timer.data = &r->dirs[i];
  }
  uv_timer_init(r->loop, &r->report_timer);
  r->report_timer.data = r;
  // Activity reports alone must not keep a process alive; the polls and rate timers do.
  uv_unref((uv_handle_t *)&r->report_timer);
  r->open_handles = HANDLES_PER_RELAY;
  // Nothing is read or written before the first loop turn: JS still closes Node's descriptors.
  for (int i = 0; i < 2; i++) r->dirs[i].wait = r->dirs[i].head_len > 0 ? WAIT_OUT : WAIT_IN;
  update_polls(r);
  napi_create_external(env, r, on_external_gone, NULL, &handle);
  return handle;
}

static relay_t *unwrap(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  void *data = NULL;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 1 || napi_get_value_external(env, argv[0], &data) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARGUMENT", "expected a splice handle");
    return NULL;
  }
  return data;
}

static napi_value totals(napi_env env, relay_t *r) {
  napi_value array, value;
  napi_create_array_with_length(env, 2, &array);
  for (uint32_t i = 0; i < 2; i++) {
    napi_create_double(env, (double)r->dirs[i].bytes, &value);
    napi_set_element(env, array, i, value);
  }
  return array;
}

// abort(handle) -> [bytesFrom0, bytesFrom1]: closes both sockets (FIN, as a plain close) without a
// callback; a no-op after the relay finished.
static napi_value abort_relay(napi_env env, napi_callback_info info) {
  relay_t *r = unwrap(env, info);
  if (r == NULL) return NULL;
  finish(r, 0, 0);
  return totals(env, r);
}

NAPI_MODULE_INIT() {
  napi_property_descriptor properties[] = {
    {"start", NULL, start, NULL, NULL, NULL, napi_enumerable, NULL},
    {"abort", NULL, abort_relay, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof properties / sizeof properties[0], properties);
  return exports;
}
