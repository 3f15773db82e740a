/*
 * skiff-stream: the pieces of kubectl's streaming paths that Node cannot do by itself, each relaying
 * between its own stdin/stdout and something only a native process can hold:
 *
 *   skiff-stream tty SOCKET PIDFILE RUNC ARGS...
 *       Runs RUNC ARGS (a `runc exec --detach --tty --console-socket SOCKET --pid-file PIDFILE ...`:
 *       runc hands out a terminal only when it detaches), receives the pseudo-terminal's master from runc
 *       over SOCKET (an fd passed with SCM_RIGHTS) and relays stdin to it and its output to stdout. Lines
 *       "WIDTH HEIGHT\n" on fd 3 resize the terminal. As a child subreaper it inherits the command once
 *       runc has gone, so it exits with the command's own exit code.
 *   skiff-stream dial NETNS PORT
 *       Enters the network namespace NETNS (a path) and connects to localhost:PORT there (IPv4, then
 *       IPv6), as kubelet's port-forward does, then relays stdin and stdout with the connection.
 *   skiff-stream attach SOCKET
 *       Connects to conmon's attach socket (SOCK_SEQPACKET: each packet is a stream id byte, 2 stdout
 *       or 3 stderr, then data) and writes each packet's data to our stdout or stderr; stdin goes to the
 *       container's stdin.
 *
 * Errors are one line on stderr and exit code 125 (126 for "cannot connect"), so the agent can tell
 * them from a command's own exit code.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <arpa/inet.h>
#include <unistd.h>
#include <libgen.h>

/* The stream id conmon puts before a packet of stderr on its attach socket (stdout's is 2, stdin's 1). */
#define ATTACH_PIPE_STDERR 3

#define HELPER_FAILED 125
#define CONNECT_FAILED 126

static void fail(int code, const char *fmt, const char *arg) {
  fprintf(stderr, fmt, arg, strerror(errno));
  fputc('\n', stderr);
  exit(code);
}

static int write_all(int fd, const char *buf, size_t len) {
  while (len > 0) {
    ssize_t n = write(fd, buf, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    buf += n;
    len -= (size_t)n;
  }
  return 0;
}

/* A unix socket address for PATH; a path longer than sun_path is reached through its directory. */
static void unix_address(const char *path, struct sockaddr_un *addr) {
  memset(addr, 0, sizeof(*addr));
  addr->sun_family = AF_UNIX;
  if (strlen(path) >= sizeof(addr->sun_path)) {
    char *copy = strdup(path);
    if (chdir(dirname(copy)) != 0) fail(HELPER_FAILED, "cannot enter the directory of %s: %s", path);
    free(copy);
    copy = strdup(path);
    path = basename(copy);
  }
  strncpy(addr->sun_path, path, sizeof(addr->sun_path) - 1);
}

static int exit_code(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return HELPER_FAILED;
}

/* Applies every complete "WIDTH HEIGHT" line read from the resize pipe to the terminal. */
static int apply_resizes(int ctl, int master, char *pending, size_t *used, size_t cap) {
  ssize_t n = read(ctl, pending + *used, cap - *used - 1);
  if (n <= 0) return -1;
  *used += (size_t)n;
  pending[*used] = 0;
  char *line = pending, *nl;
  while ((nl = strchr(line, '\n')) != NULL) {
    *nl = 0;
    unsigned w, h;
    if (sscanf(line, "%u %u", &w, &h) == 2) {
      struct winsize ws = { .ws_row = (unsigned short)h, .ws_col = (unsigned short)w };
      ioctl(master, TIOCSWINSZ, &ws);
    }
    line = nl + 1;
  }
  *used = strlen(line);
  memmove(pending, line, *used);
  if (*used == cap - 1) *used = 0; /* a line that long is garbage */
  return 0;
}

static int receive_fd(int conn) {
  char name[4096];
  struct iovec iov = { .iov_base = name, .iov_len = sizeof(name) };
  union { struct cmsghdr h; char buf[CMSG_SPACE(sizeof(int))]; } control;
  struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf, .msg_controllen = sizeof(control.buf) };
  ssize_t n;
  do n = recvmsg(conn, &msg, 0); while (n < 0 && errno == EINTR);
  if (n < 0) return -1;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
      int fd;
      memcpy(&fd, CMSG_DATA(c), sizeof(int));
      return fd;
    }
  }
  errno = EPROTO;
  return -1;
}

static pid_t read_pid(const char *path) {
  FILE *f = fopen(path, "r");
  long pid = -1;
  if (f == NULL) return -1;
  if (fscanf(f, "%ld", &pid) != 1) pid = -1;
  fclose(f);
  return (pid_t)pid;
}

static int run_tty(const char *socket_path, const char *pid_file, char **argv) {
  struct sockaddr_un addr;
  unix_address(socket_path, &addr);
  int listener = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listener < 0) fail(HELPER_FAILED, "cannot create the console socket %s: %s", socket_path);
  unlink(addr.sun_path);
  if (bind(listener, (struct sockaddr *)&addr, sizeof(addr)) != 0 || listen(listener, 1) != 0)
    fail(HELPER_FAILED, "cannot listen on the console socket %s: %s", socket_path);
  /* The command outlives the detached runc: as subreaper we become its parent and can wait for it. */
  if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) fail(HELPER_FAILED, "cannot become a subreaper for %s: %s", argv[0]);

  pid_t runc = fork();
  if (runc < 0) fail(HELPER_FAILED, "cannot fork for %s: %s", argv[0]);
  if (runc == 0) {
    int devnull = open("/dev/null", O_RDWR);
    dup2(devnull, 0);
    dup2(devnull, 1);
    close(3);
    execvp(argv[0], argv);
    fail(127, "cannot run %s: %s", argv[0]);
  }

  /* Wait for runc to hand over the terminal and exit, or to fail before it could. */
  int master = -1, status = 0, runc_done = 0;
  while (master < 0 || !runc_done) {
    struct pollfd p = { .fd = master < 0 ? listener : -1, .events = POLLIN };
    int r = poll(&p, 1, runc_done ? 0 : 20);
    if (r > 0) {
      int conn = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
      if (conn < 0) continue;
      master = receive_fd(conn);
      close(conn);
      if (master < 0) fail(HELPER_FAILED, "runc sent no terminal on %s: %s", socket_path);
      continue;
    }
    if (runc_done) break; /* runc ended and nothing is waiting on the socket */
    if (!runc_done && waitpid(runc, &status, WNOHANG) == runc) runc_done = 1;
  }
  close(listener);
  unlink(addr.sun_path);
  if (master < 0 || exit_code(status) != 0) return master < 0 && exit_code(status) == 0 ? HELPER_FAILED : exit_code(status);
  pid_t command = read_pid(pid_file);
  if (command <= 0) fail(HELPER_FAILED, "runc wrote no pid to %s: %s", pid_file);

  char ctl_buf[256];
  size_t ctl_used = 0;
  int stdin_open = 1, ctl_open = fcntl(3, F_GETFD) != -1, command_done = 0;
  char buf[32768];
  for (;;) {
    struct pollfd p[3] = {
      { .fd = master, .events = POLLIN },
      { .fd = stdin_open ? 0 : -1, .events = POLLIN },
      { .fd = ctl_open ? 3 : -1, .events = POLLIN },
    };
    int r = poll(p, 3, command_done ? 0 : 100);
    if (r < 0 && errno != EINTR) break;
    if (r == 0 && command_done) break; /* the command ended and its output is drained */
    if (r > 0 && p[2].revents) {
      if (apply_resizes(3, master, ctl_buf, &ctl_used, sizeof(ctl_buf)) < 0) ctl_open = 0;
    }
    if (r > 0 && p[1].revents) {
      ssize_t n = read(0, buf, sizeof(buf));
      if (n <= 0) stdin_open = 0;
      else if (write_all(master, buf, (size_t)n) < 0) stdin_open = 0;
    }
    if (r > 0 && p[0].revents) {
      ssize_t n = read(master, buf, sizeof(buf));
      if (n <= 0) break; /* EIO: every holder of the terminal has closed it */
      if (write_all(1, buf, (size_t)n) < 0) break;
    }
    /* Reap every orphan handed to us; the command's status is the one that counts. */
    int st;
    pid_t reaped;
    while (!command_done && (reaped = waitpid(-1, &st, WNOHANG)) > 0) {
      if (reaped == command) {
        status = st;
        command_done = 1;
      }
    }
  }
  if (!command_done) {
    pid_t reaped;
    int st;
    while ((reaped = waitpid(-1, &st, 0)) > 0) {
      if (reaped == command) {
        status = st;
        break;
      }
    }
  }
  return exit_code(status);
}

/*
 * Relays stdin to FD and FD to stdout until FD ends; stdin's end half-closes FD (for conmon's attach
 * socket that closes the container's stdin unless it was told to leave it open: stdinOnce). With
 * `packets` FD is conmon's SOCK_SEQPACKET attach socket: each packet starts with its stream id, and
 * stdin goes in packets no larger than conmon reads (8192 bytes).
 */
static int relay_stream(int fd, int packets) {
  char buf[65536];
  size_t chunk = packets ? 8192 : sizeof(buf);
  int stdin_open = 1;
  for (;;) {
    struct pollfd p[2] = { { .fd = fd, .events = POLLIN }, { .fd = stdin_open ? 0 : -1, .events = POLLIN } };
    if (poll(p, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return HELPER_FAILED;
    }
    if (p[1].revents) {
      ssize_t n = read(0, buf, chunk);
      if (n <= 0) {
        stdin_open = 0;
        shutdown(fd, SHUT_WR);
      } else if (write_all(fd, buf, (size_t)n) < 0) {
        stdin_open = 0;
      }
    }
    if (p[0].revents) {
      ssize_t n = recv(fd, buf, sizeof(buf), 0);
      if (n <= 0) return 0;
      int out = 1;
      char *data = buf;
      if (packets) {
        if (n < 2) continue;
        out = buf[0] == ATTACH_PIPE_STDERR ? 2 : 1;
        data++;
        n--;
      }
      if (write_all(out, data, (size_t)n) < 0) return 0;
    }
  }
}

/* strerror as Go words it ("connection refused"), since kubectl users know kubelet's messages. */
static const char *go_error(int err, char *out, size_t cap) {
  snprintf(out, cap, "%s", strerror(err));
  if (out[0] >= 'A' && out[0] <= 'Z') out[0] = (char)(out[0] - 'A' + 'a');
  return out;
}

static int run_dial(const char *netns, const char *port_arg) {
  char *end;
  long port = strtol(port_arg, &end, 10);
  if (*end != 0 || port < 1 || port > 65535) {
    errno = EINVAL;
    fail(HELPER_FAILED, "invalid port %s: %s", port_arg);
  }
  int ns = open(netns, O_RDONLY | O_CLOEXEC);
  if (ns < 0 || setns(ns, CLONE_NEWNET) != 0) fail(HELPER_FAILED, "cannot enter network namespace %s: %s", netns);
  close(ns);

  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in v4 = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
  if (connect(fd, (struct sockaddr *)&v4, sizeof(v4)) != 0) {
    char v4err[128], v6err[128];
    go_error(errno, v4err, sizeof(v4err));
    close(fd);
    fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in6 v6 = { .sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port), .sin6_addr = IN6ADDR_LOOPBACK_INIT };
    if (fd < 0 || connect(fd, (struct sockaddr *)&v6, sizeof(v6)) != 0) {
      /* kubelet's wording, so kubectl shows what users of other clusters see. */
      fprintf(stderr, "failed to connect to localhost:%ld inside namespace \"%s\", IPv4: dial tcp4 127.0.0.1:%ld: connect: %s IPv6 dial tcp6 [::1]:%ld: connect: %s\n",
              port, netns, port, v4err, port, go_error(errno, v6err, sizeof(v6err)));
      return CONNECT_FAILED;
    }
  }
  /* One byte tells the agent the connection is up before any data flows. */
  if (write_all(2, "+", 1) < 0) return HELPER_FAILED;
  return relay_stream(fd, 0);
}

static int run_attach(const char *socket_path) {
  struct sockaddr_un addr;
  unix_address(socket_path, &addr);
  int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0) {
    fprintf(stderr, "cannot connect to the container's attach socket %s: %s\n", socket_path, strerror(errno));
    return CONNECT_FAILED;
  }
  return relay_stream(fd, 1);
}

int main(int argc, char **argv) {
  signal(SIGPIPE, SIG_IGN);
  if (argc >= 5 && strcmp(argv[1], "tty") == 0) return run_tty(argv[2], argv[3], argv + 4);
  if (argc == 4 && strcmp(argv[1], "dial") == 0) return run_dial(argv[2], argv[3]);
  if (argc == 3 && strcmp(argv[1], "attach") == 0) return run_attach(argv[2]);
  fprintf(stderr, "usage: skiff-stream tty SOCKET PIDFILE RUNC-ARGS... | dial NETNS PORT | attach SOCKET\n");
  return 2;
}
