// netns_native: the few Linux syscalls Node.js does not expose, for netns-agent.
//
// - NETLINK sockets opened with the calling thread briefly inside a target network namespace
//   (setns is per thread; we switch back at once, before returning to JavaScript, and verify it),
//   read through a libuv poll handle so many sockets share the event loop;
// - named network namespaces created and deleted the way `ip netns` does (a bind mount of the
//   namespace file under /var/run/netns, that directory being a shared mount point);
// - namespace file checks (filesystem magic and namespace type) for file references.
//
// Everything here is synchronous and short, except the reads, which are driven by libuv, and
// sendAsync, for the requests the kernel takes long over (a link's deletion waits for RCU inside
// sendmsg(): 15-50 ms a VETH pair, ~0.5 s a thousand), sent from a thread of libuv's pool.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/netlink.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <node_api.h>
#include <uv.h>

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif
#ifndef NETLINK_CAP_ACK
#define NETLINK_CAP_ACK 10
#endif
#ifndef NETLINK_EXT_ACK
#define NETLINK_EXT_ACK 11
#endif
#ifndef NETLINK_GET_STRICT_CHK
#define NETLINK_GET_STRICT_CHK 12
#endif
#ifndef NSFS_MAGIC
#define NSFS_MAGIC 0x6e736673
#endif

#define RECV_BUFFER_BYTES (1 << 20)
#define MAX_DATAGRAMS_PER_WAKEUP 256

// ---------------------------------------------------------------------------------------------
// small N-API helpers

#define CALL(env, expr)                                                                            \
  do {                                                                                             \
    if ((expr) != napi_ok) {                                                                       \
      napi_throw_error((env), "ENAPI", "N-API call failed: " #expr);                               \
      return NULL;                                                                                 \
    }                                                                                              \
  } while (0)

static napi_value throw_errno(napi_env env, int err, const char *syscall, const char *detail) {
  char message[512];
  snprintf(message, sizeof message, "%s%s%s: %s", syscall, detail ? " " : "", detail ? detail : "",
           strerror(err));
  napi_value msg, error, errno_value, code_value, syscall_value;
  napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &msg);
  napi_create_error(env, NULL, msg, &error);
  napi_create_int32(env, err, &errno_value);
  napi_set_named_property(env, error, "errno", errno_value);
  const char *name = uv_err_name(-err);
  napi_create_string_utf8(env, name ? name : "EUNKNOWN", NAPI_AUTO_LENGTH, &code_value);
  napi_set_named_property(env, error, "code", code_value);
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &syscall_value);
  napi_set_named_property(env, error, "syscall", syscall_value);
  napi_throw(env, error);
  return NULL;
}

static int get_string(napi_env env, napi_value value, char *out, size_t size) {
  size_t len = 0;
  if (napi_get_value_string_utf8(env, value, out, size, &len) != napi_ok) return -1;
  if (len >= size - 1) return -1;
  return 0;
}

static int is_null_or_undefined(napi_env env, napi_value value) {
  napi_valuetype type;
  napi_typeof(env, value, &type);
  return type == napi_null || type == napi_undefined;
}

// ---------------------------------------------------------------------------------------------
// namespace switching, always paired and verified

typedef struct {
  int original_fd;
  struct stat original;
} ns_guard;

static int ns_enter(ns_guard *guard, int target_fd) {
  guard->original_fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (guard->original_fd < 0) return -errno;
  if (fstat(guard->original_fd, &guard->original) < 0) {
    int err = errno;
    close(guard->original_fd);
    return -err;
  }
  if (target_fd >= 0 && setns(target_fd, CLONE_NEWNET) < 0) {
    int err = errno;
    close(guard->original_fd);
    return -err;
  }
  return 0;
}

// Returns to the original namespace. A failure here would leave the main thread in another
// namespace, which nothing in the process could survive correctly: abort loudly instead.
static void ns_leave(ns_guard *guard) {
  // Never left (a socket of the own namespace): nothing to return from. Without this, a process
  // that may not setns (not root) aborted here after merely opening a socket.
  struct stat here;
  if (stat("/proc/thread-self/ns/net", &here) == 0 && here.st_ino == guard->original.st_ino &&
      here.st_dev == guard->original.st_dev) {
    close(guard->original_fd);
    return;
  }
  if (setns(guard->original_fd, CLONE_NEWNET) < 0) {
    fprintf(stderr, "netns_native: cannot return to the original network namespace: %s\n",
            strerror(errno));
    abort();
  }
  close(guard->original_fd);
  struct stat now;
  if (stat("/proc/thread-self/ns/net", &now) < 0 || now.st_ino != guard->original.st_ino ||
      now.st_dev != guard->original.st_dev) {
    fprintf(stderr, "netns_native: thread is not back in its original network namespace\n");
    abort();
  }
}

// Calls a JS callback from a libuv callback. An exception it throws is reported as Node reports any
// uncaught exception; left pending in the env, it made every later callback fail silently (a
// deletion's `done` never came, and every socket waited for it for ever).
static void call_back(napi_env env, napi_value callback, size_t argc, const napi_value *argv) {
  napi_value global, result;
  napi_get_global(env, &global);
  if (napi_make_callback(env, NULL, global, callback, argc, argv, &result) == napi_pending_exception) {
    napi_value error;
    if (napi_get_and_clear_last_exception(env, &error) == napi_ok) napi_fatal_exception(env, error);
  }
}

// ---------------------------------------------------------------------------------------------
// netlink sockets

typedef struct nl_socket {
  uv_poll_t poll;  // first member: the handle pointer is the socket pointer
  napi_env env;
  napi_ref on_data;
  napi_ref on_error;
  napi_ref self;
  int fd;
  int polling;
  int closing;
  // sendAsync calls not finished yet, and whether the poll handle is closed: the descriptor is
  // closed and the socket freed when both say nothing uses them any more.
  int async_sends;
  int poll_closed;
} nl_socket;

static char *recv_buffer = NULL;

static void socket_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  (void)data;
}

static void free_socket(nl_socket *sock) {
  napi_env env = sock->env;
  if (sock->on_data) napi_delete_reference(env, sock->on_data);
  if (sock->on_error) napi_delete_reference(env, sock->on_error);
  if (sock->self) napi_delete_reference(env, sock->self);
  close(sock->fd);
  free(sock);
}

static void on_poll_closed(uv_handle_t *handle) {
  nl_socket *sock = (nl_socket *)handle;
  sock->poll_closed = 1;
  // A send still running on the pool uses the descriptor: the last one frees the socket.
  if (sock->async_sends == 0) free_socket(sock);
}

static void deliver_error(nl_socket *sock, int err) {
  napi_env env = sock->env;
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  napi_value callback, arg;
  napi_get_reference_value(env, sock->on_error, &callback);
  napi_create_int32(env, err, &arg);
  call_back(env, callback, 1, &arg);
  napi_close_handle_scope(env, scope);
}

// After an overrun (ENOBUFS) what is still queued is older than anything the owner can learn from
// now on (it re-reads the state: a dump sent after this), and the messages that followed it are
// lost: applied after that dump, the queued ones would bring back a past state. Discard them.
static void discard_queued(nl_socket *sock) {
  for (int i = 0; i < 1000000; i++) {
    ssize_t n = recv(sock->fd, recv_buffer, RECV_BUFFER_BYTES, MSG_DONTWAIT | MSG_TRUNC);
    if (n < 0 && errno != EINTR && errno != ENOBUFS) return;
  }
}

static int read_queued(nl_socket *sock, uint32_t limit, int sync);

static void on_readable(uv_poll_t *handle, int status, int events) {
  nl_socket *sock = (nl_socket *)handle;
  if (sock->closing) return;
  if (status < 0) {
    // libuv turns a socket error condition (POLLERR) into UV_EBADF and STOPS the handle. For a
    // netlink socket that condition is an overrun (sk_err = ENOBUFS: messages were dropped), after
    // which the socket works on: read and clear the real error, poll again, and report it. Left
    // stopped, an event socket would hear nothing more after its first overrun.
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(sock->fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0) {
      if (sock->polling) uv_poll_start(&sock->poll, UV_READABLE, on_readable);
      if (err == 0) return;  // nothing pending (any more): nothing was lost
      if (err == ENOBUFS) discard_queued(sock);
    } else {
      err = -status;
    }
    deliver_error(sock, err);
    return;
  }
  if (!(events & UV_READABLE)) return;
  read_queued(sock, MAX_DATAGRAMS_PER_WAKEUP, 0);
}

// Reads up to `limit` queued datagrams and hands them to on_data (from the event loop, or, `sync`,
// from a JS call); then reports an error the reading met. Returns 1 when the queue is known empty.
static int read_queued(nl_socket *sock, uint32_t limit, int sync) {
  napi_env env = sock->env;
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  napi_value list;
  napi_create_array(env, &list);
  uint32_t count = 0;
  int error = 0;
  int empty = 0;
  while (count < limit) {
    struct sockaddr_nl from;
    struct iovec iov = {recv_buffer, RECV_BUFFER_BYTES};
    struct msghdr msg = {0};
    msg.msg_name = &from;
    msg.msg_namelen = sizeof from;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    ssize_t n = recvmsg(sock->fd, &msg, MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) error = errno;
      else empty = 1;
      break;
    }
    if (msg.msg_flags & MSG_TRUNC) {
      error = EMSGSIZE;
      break;
    }
    // Only the kernel (port 0) speaks to us; anything else is ignored.
    if (from.nl_pid != 0) continue;
    napi_value buffer;
    void *copy;
    napi_create_buffer_copy(env, (size_t)n, recv_buffer, &copy, &buffer);
    napi_set_element(env, list, count++, buffer);
  }
  if (count > 0) {
    napi_value callback, global, result;
    napi_get_reference_value(env, sock->on_data, &callback);
    napi_get_global(env, &global);
    if (sync) napi_call_function(env, global, callback, 1, &list, &result);
    else call_back(env, callback, 1, &list);
  }
  napi_close_handle_scope(env, scope);
  if (error == ENOBUFS && !sock->closing) discard_queued(sock);
  if (error && !sock->closing) deliver_error(sock, error);
  return empty || error != 0;
}

// open(nsPath: string | null, protocol: number, rcvbuf: number, groups: number[],
//      onData: (datagrams: Buffer[]) => void, onError: (errno: number) => void) -> handle
static napi_value nl_open(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 6) {
    napi_throw_type_error(env, NULL, "open(nsPath, protocol, rcvbuf, groups, onData, onError)");
    return NULL;
  }
  char ns_path[4096];
  int has_ns = !is_null_or_undefined(env, argv[0]);
  if (has_ns && get_string(env, argv[0], ns_path, sizeof ns_path) < 0) {
    napi_throw_type_error(env, NULL, "nsPath must be a string shorter than 4096 bytes");
    return NULL;
  }
  int32_t protocol, rcvbuf;
  CALL(env, napi_get_value_int32(env, argv[1], &protocol));
  CALL(env, napi_get_value_int32(env, argv[2], &rcvbuf));
  uint32_t group_count = 0;
  CALL(env, napi_get_array_length(env, argv[3], &group_count));

  int target_fd = -1;
  if (has_ns) {
    target_fd = open(ns_path, O_RDONLY | O_CLOEXEC);
    if (target_fd < 0) return throw_errno(env, errno, "open", ns_path);
  }
  ns_guard guard;
  int rc = ns_enter(&guard, target_fd);
  if (rc < 0) {
    if (target_fd >= 0) close(target_fd);
    return throw_errno(env, -rc, "setns", ns_path);
  }
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, protocol);
  int socket_errno = errno;
  ns_leave(&guard);
  if (target_fd >= 0) close(target_fd);
  if (fd < 0) return throw_errno(env, socket_errno, "socket", "AF_NETLINK");

  int one = 1;
  // Errors carry the kernel's message and the offending attribute; acks do not echo requests.
  setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof one);
  setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one);
  setsockopt(fd, SOL_NETLINK, NETLINK_GET_STRICT_CHK, &one, sizeof one);
  if (rcvbuf > 0 && setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) < 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  int sndbuf = 4 << 20;
  if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof sndbuf) < 0)
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);

  struct sockaddr_nl local = {0};
  local.nl_family = AF_NETLINK;
  if (bind(fd, (struct sockaddr *)&local, sizeof local) < 0) {
    int err = errno;
    close(fd);
    return throw_errno(env, err, "bind", "AF_NETLINK");
  }
  for (uint32_t i = 0; i < group_count; i++) {
    napi_value element;
    int32_t group;
    napi_get_element(env, argv[3], i, &element);
    napi_get_value_int32(env, element, &group);
    if (setsockopt(fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &group, sizeof group) < 0) {
      int err = errno;
      close(fd);
      return throw_errno(env, err, "setsockopt", "NETLINK_ADD_MEMBERSHIP");
    }
  }
  socklen_t addr_len = sizeof local;
  getsockname(fd, (struct sockaddr *)&local, &addr_len);

  nl_socket *sock = calloc(1, sizeof *sock);
  sock->env = env;
  sock->fd = fd;
  uv_loop_t *loop;
  napi_get_uv_event_loop(env, &loop);
  rc = uv_poll_init(loop, &sock->poll, fd);
  if (rc < 0) {
    close(fd);
    free(sock);
    return throw_errno(env, -rc, "uv_poll_init", NULL);
  }
  napi_create_reference(env, argv[4], 1, &sock->on_data);
  napi_create_reference(env, argv[5], 1, &sock->on_error);
  uv_poll_start(&sock->poll, UV_READABLE, on_readable);
  sock->polling = 1;

  napi_value handle, fd_value, port_value, external;
  napi_create_object(env, &handle);
  napi_create_external(env, sock, socket_finalize, NULL, &external);
  napi_set_named_property(env, handle, "native", external);
  napi_create_int32(env, fd, &fd_value);
  napi_set_named_property(env, handle, "fd", fd_value);
  napi_create_uint32(env, local.nl_pid, &port_value);
  napi_set_named_property(env, handle, "portId", port_value);
  return handle;
}

static nl_socket *socket_of(napi_env env, napi_value handle) {
  napi_value external;
  if (napi_get_named_property(env, handle, "native", &external) != napi_ok) return NULL;
  void *data = NULL;
  if (napi_get_value_external(env, external, &data) != napi_ok) return NULL;
  return (nl_socket *)data;
}

// The (handle, buffer) arguments of send and attachFilter: the open socket and the buffer's bytes.
// NULL (with a JS exception pending) when the socket is closed or the arguments are wrong.
static nl_socket *socket_and_buffer(napi_env env, napi_callback_info info, void **data, size_t *length) {
  size_t argc = 2;
  napi_value argv[2];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  nl_socket *sock = socket_of(env, argv[0]);
  if (!sock || sock->closing) {
    napi_throw_error(env, "ECLOSED", "netlink socket is closed");
    return NULL;
  }
  if (napi_get_buffer_info(env, argv[1], data, length) != napi_ok) {
    napi_throw_type_error(env, NULL, "expected a Buffer");
    return NULL;
  }
  return sock;
}

// send(handle, buffer) -> bytes sent, or -errno. The kernel handles every message of the buffer
// inside this call.
static napi_value nl_send(napi_env env, napi_callback_info info) {
  void *data;
  size_t length;
  nl_socket *sock = socket_and_buffer(env, info, &data, &length);
  if (!sock) return NULL;
  struct sockaddr_nl kernel = {0};
  kernel.nl_family = AF_NETLINK;
  ssize_t n;
  do {
    n = sendto(sock->fd, data, length, 0, (struct sockaddr *)&kernel, sizeof kernel);
  } while (n < 0 && errno == EINTR);
  napi_value result;
  napi_create_int32(env, n < 0 ? -errno : (int32_t)n, &result);
  return result;
}

// sendAsync(handle, buffer, done: (result) => void): as send, but sendmsg() runs on a thread of
// libuv's pool, so the event loop goes on while the kernel works; `done` gets the bytes sent or
// -errno. The bytes are copied first: the caller may reuse its buffer at once.
typedef struct async_send {
  uv_work_t work;
  nl_socket *sock;
  napi_ref done;
  void *data;
  size_t length;
  ssize_t result;
} async_send;

static void async_send_work(uv_work_t *work) {
  async_send *req = (async_send *)work->data;
  struct sockaddr_nl kernel = {0};
  kernel.nl_family = AF_NETLINK;
  ssize_t n;
  do {
    n = sendto(req->sock->fd, req->data, req->length, 0, (struct sockaddr *)&kernel, sizeof kernel);
  } while (n < 0 && errno == EINTR);
  req->result = n < 0 ? -errno : n;
}

static void async_send_after(uv_work_t *work, int status) {
  async_send *req = (async_send *)work->data;
  nl_socket *sock = req->sock;
  napi_env env = sock->env;
  sock->async_sends--;
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  napi_value callback, arg;
  napi_get_reference_value(env, req->done, &callback);
  napi_create_int32(env, status == UV_ECANCELED ? -ECANCELED : (int32_t)req->result, &arg);
  if (callback) call_back(env, callback, 1, &arg);
  napi_close_handle_scope(env, scope);
  napi_delete_reference(env, req->done);
  free(req->data);
  free(req);
  if (sock->poll_closed && sock->async_sends == 0) free_socket(sock);
}

static napi_value nl_send_async(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  nl_socket *sock = argc >= 3 ? socket_of(env, argv[0]) : NULL;
  if (!sock || sock->closing) {
    napi_throw_error(env, "ECLOSED", "netlink socket is closed");
    return NULL;
  }
  void *data;
  size_t length;
  if (napi_get_buffer_info(env, argv[1], &data, &length) != napi_ok) {
    napi_throw_type_error(env, NULL, "expected a Buffer");
    return NULL;
  }
  async_send *req = calloc(1, sizeof *req);
  if (req) req->data = malloc(length > 0 ? length : 1);
  if (!req || !req->data) {
    free(req);
    napi_throw_error(env, "ENOMEM", "out of memory");
    return NULL;
  }
  memcpy(req->data, data, length);
  req->length = length;
  req->sock = sock;
  req->work.data = req;
  if (napi_create_reference(env, argv[2], 1, &req->done) != napi_ok) {
    free(req->data);
    free(req);
    napi_throw_error(env, "ENAPI", "N-API call failed: napi_create_reference");
    return NULL;
  }
  uv_loop_t *loop;
  napi_get_uv_event_loop(env, &loop);
  int rc = uv_queue_work(loop, &req->work, async_send_work, async_send_after);
  if (rc < 0) {
    napi_delete_reference(env, req->done);
    free(req->data);
    free(req);
    return throw_errno(env, -rc, "uv_queue_work", NULL);
  }
  sock->async_sends++;
  return NULL;
}

// readNow(handle): reads everything queued now, synchronously (its datagrams go to onData before
// this returns). After a dump, the events queued before its snapshot are all in the queue: read
// now, they can be ordered against it (src/netlink/link-registry.ts).
static napi_value nl_read_now(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  nl_socket *sock = socket_of(env, argv[0]);
  for (int rounds = 0; sock && !sock->closing && rounds < 1000; rounds++) {
    if (read_queued(sock, MAX_DATAGRAMS_PER_WAKEUP, 1)) break;
  }
  return NULL;
}

// attachFilter(handle, program): program is a Buffer of struct sock_filter (classic BPF) that the
// kernel runs on every datagram before queueing it (SO_ATTACH_FILTER); what it drops never reaches
// us. Throws with errno when the kernel refuses the program.
static napi_value nl_attach_filter(napi_env env, napi_callback_info info) {
  void *data;
  size_t length;
  nl_socket *sock = socket_and_buffer(env, info, &data, &length);
  if (!sock) return NULL;
  size_t count = length / sizeof(struct sock_filter);
  if (count == 0 || count > BPF_MAXINSNS || length % sizeof(struct sock_filter) != 0) {
    napi_throw_range_error(env, NULL, "a filter is 1 to 4096 sock_filter structs");
    return NULL;
  }
  struct sock_fprog program = {(unsigned short)count, (struct sock_filter *)data};
  if (setsockopt(sock->fd, SOL_SOCKET, SO_ATTACH_FILTER, &program, sizeof program) < 0)
    return throw_errno(env, errno, "setsockopt", "SO_ATTACH_FILTER");
  return NULL;
}

static napi_value nl_set_polling(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  nl_socket *sock = socket_of(env, argv[0]);
  bool on;
  CALL(env, napi_get_value_bool(env, argv[1], &on));
  if (!sock || sock->closing) return NULL;
  if (on && !sock->polling) uv_poll_start(&sock->poll, UV_READABLE, on_readable);
  if (!on && sock->polling) uv_poll_stop(&sock->poll);
  sock->polling = on;
  return NULL;
}

static napi_value nl_unref(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  nl_socket *sock = socket_of(env, argv[0]);
  if (sock && !sock->closing) uv_unref((uv_handle_t *)&sock->poll);
  return NULL;
}

static napi_value nl_ref(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  nl_socket *sock = socket_of(env, argv[0]);
  if (sock && !sock->closing) uv_ref((uv_handle_t *)&sock->poll);
  return NULL;
}

static napi_value nl_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  nl_socket *sock = socket_of(env, argv[0]);
  if (!sock || sock->closing) return NULL;
  sock->closing = 1;
  uv_poll_stop(&sock->poll);
  uv_close((uv_handle_t *)&sock->poll, on_poll_closed);
  return NULL;
}

// ---------------------------------------------------------------------------------------------
// named namespaces, as `ip netns add/del` make them

// Makes dir a shared mount point, bind-mounting it onto itself first when it is not a mount
// point yet, so that namespace mounts under it propagate to every mount namespace.
static int make_shared_mount_point(const char *dir) {
  if (mount("", dir, "none", MS_SHARED | MS_REC, NULL) == 0) return 0;
  if (errno != EINVAL) return -errno;
  if (mount(dir, dir, "none", MS_BIND | MS_REC, NULL) < 0) return -errno;
  if (mount("", dir, "none", MS_SHARED | MS_REC, NULL) < 0) return -errno;
  return 0;
}

// newNamespace() -> the fd of a fresh network namespace, mounted nowhere: it lives as long as the fd
// (or a later mount of it). A namespace can so be prepared (e.g. marked) before it gets its name,
// and a process killed meanwhile leaves nothing behind.
static napi_value ns_new_namespace(napi_env env, napi_callback_info info) {
  (void)info;
  ns_guard guard;
  int rc = ns_enter(&guard, -1);
  if (rc < 0) return throw_errno(env, -rc, "open", "/proc/thread-self/ns/net");
  int err = 0;
  const char *failed = NULL;
  int fd = -1;
  if (unshare(CLONE_NEWNET) < 0) {
    err = errno;
    failed = "unshare";
  } else if ((fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)) < 0) {
    err = errno;
    failed = "open";
  }
  ns_leave(&guard);
  if (failed) return throw_errno(env, err, failed, "/proc/thread-self/ns/net");
  napi_value result;
  CALL(env, napi_create_int32(env, fd, &result));
  return result;
}

// bindNamespace(dir, path, fd): names the namespace of fd as `ip netns add` names a new one: dir
// made a shared mount point, path (which must not exist) created and the namespace bind-mounted
// on it. Throws with errno; EEXIST when path exists.
static napi_value ns_bind_namespace(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char dir[4096], path[4096];
  int32_t fd = -1;
  if (argc < 3 || get_string(env, argv[0], dir, sizeof dir) < 0 ||
      get_string(env, argv[1], path, sizeof path) < 0 ||
      napi_get_value_int32(env, argv[2], &fd) != napi_ok || fd < 0) {
    napi_throw_type_error(env, NULL, "bindNamespace(dir, path, fd)");
    return NULL;
  }
  if (mkdir(dir, 0755) < 0 && errno != EEXIST) return throw_errno(env, errno, "mkdir", dir);
  int rc = make_shared_mount_point(dir);
  if (rc < 0) return throw_errno(env, -rc, "mount", dir);
  int file = open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0);
  if (file < 0) return throw_errno(env, errno, "open", path);
  close(file);
  char source[64];
  snprintf(source, sizeof source, "/proc/self/fd/%d", fd);
  if (mount(source, path, "none", MS_BIND, NULL) < 0) {
    int err = errno;
    unlink(path);
    return throw_errno(env, err, "mount", path);
  }
  return NULL;
}

// lockFile(fd) -> true when this process now holds the exclusive lock of the open file (flock),
// false when another process holds it. The kernel lets go of it when the fd closes or the process
// dies: there is no stale lock to judge.
static napi_value ns_lock_file(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd = -1;
  if (argc < 1 || napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0) {
    napi_throw_type_error(env, NULL, "lockFile(fd)");
    return NULL;
  }
  int rc;
  do {
    rc = flock(fd, LOCK_EX | LOCK_NB);
  } while (rc < 0 && errno == EINTR);
  if (rc < 0 && errno != EWOULDBLOCK) return throw_errno(env, errno, "flock", NULL);
  napi_value result;
  CALL(env, napi_get_boolean(env, rc == 0, &result));
  return result;
}

// deleteNamed(path): unmount (lazily, as ip does) and remove the file. Missing is not an error.
static napi_value ns_delete_named(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char path[4096];
  if (argc < 1 || get_string(env, argv[0], path, sizeof path) < 0) {
    napi_throw_type_error(env, NULL, "deleteNamed(path)");
    return NULL;
  }
  if (umount2(path, MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT)
    return throw_errno(env, errno, "umount2", path);
  if (unlink(path) < 0 && errno != ENOENT) return throw_errno(env, errno, "unlink", path);
  return NULL;
}

// inspect(path) -> { dev, ino, fsMagic, nsType } without following the path into anything but
// what open() reaches; nsType is the CLONE_* flag of the namespace, or 0 when not a namespace.
static napi_value ns_inspect(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char path[4096];
  if (argc < 1 || get_string(env, argv[0], path, sizeof path) < 0) {
    napi_throw_type_error(env, NULL, "inspect(path)");
    return NULL;
  }
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) return throw_errno(env, errno, "open", path);
  struct stat st;
  struct statfs sfs;
  if (fstat(fd, &st) < 0 || fstatfs(fd, &sfs) < 0) {
    int err = errno;
    close(fd);
    return throw_errno(env, err, "fstat", path);
  }
  int ns_type = 0;
  if ((unsigned long)sfs.f_type == NSFS_MAGIC) {
    int t = ioctl(fd, NS_GET_NSTYPE);
    if (t > 0) ns_type = t;
  }
  close(fd);
  napi_value result, v;
  napi_create_object(env, &result);
  napi_create_double(env, (double)st.st_dev, &v);
  napi_set_named_property(env, result, "dev", v);
  napi_create_double(env, (double)st.st_ino, &v);
  napi_set_named_property(env, result, "ino", v);
  napi_create_double(env, (double)(unsigned long)sfs.f_type, &v);
  napi_set_named_property(env, result, "fsMagic", v);
  napi_create_int32(env, ns_type, &v);
  napi_set_named_property(env, result, "nsType", v);
  return result;
}

// currentNamespace() -> { dev, ino } of the calling (main) thread's network namespace.
static napi_value ns_current(napi_env env, napi_callback_info info) {
  (void)info;
  struct stat st;
  if (stat("/proc/thread-self/ns/net", &st) < 0)
    return throw_errno(env, errno, "stat", "/proc/thread-self/ns/net");
  napi_value result, v;
  napi_create_object(env, &result);
  napi_create_double(env, (double)st.st_dev, &v);
  napi_set_named_property(env, result, "dev", v);
  napi_create_double(env, (double)st.st_ino, &v);
  napi_set_named_property(env, result, "ino", v);
  return result;
}

// ---------------------------------------------------------------------------------------------

static napi_value init(napi_env env, napi_value exports) {
  if (!recv_buffer) recv_buffer = malloc(RECV_BUFFER_BYTES);
  napi_property_descriptor props[] = {
      {"open", NULL, nl_open, NULL, NULL, NULL, napi_default, NULL},
      {"send", NULL, nl_send, NULL, NULL, NULL, napi_default, NULL},
      {"sendAsync", NULL, nl_send_async, NULL, NULL, NULL, napi_default, NULL},
      {"setPolling", NULL, nl_set_polling, NULL, NULL, NULL, napi_default, NULL},
      {"attachFilter", NULL, nl_attach_filter, NULL, NULL, NULL, napi_default, NULL},
      {"readNow", NULL, nl_read_now, NULL, NULL, NULL, napi_default, NULL},
      {"unref", NULL, nl_unref, NULL, NULL, NULL, napi_default, NULL},
      {"ref", NULL, nl_ref, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, nl_close, NULL, NULL, NULL, napi_default, NULL},
      {"deleteNamed", NULL, ns_delete_named, NULL, NULL, NULL, napi_default, NULL},
      {"newNamespace", NULL, ns_new_namespace, NULL, NULL, NULL, napi_default, NULL},
      {"bindNamespace", NULL, ns_bind_namespace, NULL, NULL, NULL, napi_default, NULL},
      {"lockFile", NULL, ns_lock_file, NULL, NULL, NULL, napi_default, NULL},
      {"inspect", NULL, ns_inspect, NULL, NULL, NULL, napi_default, NULL},
      {"currentNamespace", NULL, ns_current, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(netns_native, init)
