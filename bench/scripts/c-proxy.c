/*
 * A reference TCP proxy in C for `pnpm bench proxy`: what a user-space proxy costs on this machine
 * when no runtime stands between it and the kernel. Two threads per connection, one per direction,
 * blocking system calls, so the only work left is the kernel's.
 *
 *   c-proxy copy PORT     read(2) up to 1 MiB, write(2) it all (lab proxy's read size)
 *   c-proxy splice PORT   splice(2) socket -> pipe -> socket, no copy through user space
 *
 * Listens on 127.0.0.1 (an ephemeral port, printed as "proxying 127.0.0.1:N"), connects each client
 * to 127.0.0.1:PORT. A FIN is passed on as a shutdown of the other side's write half. Bench code:
 * it trusts its peers and stops at the first error on a connection.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define CHUNK (1 << 20)

struct conn {
  int client, upstream;
  atomic_int open_directions;
};

struct direction {
  struct conn *conn;
  int from, to;
};

static int use_splice;

static void copy_loop(int from, int to) {
  char *buf = malloc(CHUNK);
  if (!buf) return;
  for (;;) {
    ssize_t n = read(from, buf, CHUNK);
    if (n <= 0) break;
    for (char *p = buf; n > 0;) {
      ssize_t m = write(to, p, (size_t)n);
      if (m <= 0) goto done;
      p += m;
      n -= m;
    }
  }
done:
  free(buf);
}

static void splice_loop(int from, int to) {
  int pipefd[2];
  if (pipe2(pipefd, O_CLOEXEC) < 0) return;
  fcntl(pipefd[1], F_SETPIPE_SZ, CHUNK);
  for (;;) {
    ssize_t n = splice(from, NULL, pipefd[1], NULL, CHUNK, SPLICE_F_MOVE);
    if (n <= 0) break;
    while (n > 0) {
      ssize_t m = splice(pipefd[0], NULL, to, NULL, (size_t)n, SPLICE_F_MOVE);
      if (m <= 0) goto done;
      n -= m;
    }
  }
done:
  close(pipefd[0]);
  close(pipefd[1]);
}

static void *pump(void *arg) {
  struct direction *d = arg;
  if (use_splice)
    splice_loop(d->from, d->to);
  else
    copy_loop(d->from, d->to);
  shutdown(d->to, SHUT_WR);
  struct conn *c = d->conn;
  free(d);
  if (atomic_fetch_sub(&c->open_directions, 1) == 1) {
    close(c->client);
    close(c->upstream);
    free(c);
  }
  return NULL;
}

static void start(struct conn *c, int from, int to) {
  struct direction *d = malloc(sizeof *d);
  pthread_t thread;
  *d = (struct direction){c, from, to};
  if (pthread_create(&thread, NULL, pump, d) != 0) {
    perror("pthread_create");
    exit(1);
  }
  pthread_detach(thread);
}

int main(int argc, char **argv) {
  if (argc != 3 || (strcmp(argv[1], "copy") != 0 && strcmp(argv[1], "splice") != 0)) {
    fprintf(stderr, "usage: c-proxy copy|splice UPSTREAM_PORT\n");
    return 2;
  }
  use_splice = strcmp(argv[1], "splice") == 0;
  struct sockaddr_in up = {.sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(argv[2]))};
  struct sockaddr_in at = {.sin_family = AF_INET};
  inet_pton(AF_INET, "127.0.0.1", &up.sin_addr);
  inet_pton(AF_INET, "127.0.0.1", &at.sin_addr);
  int one = 1;
  int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  socklen_t len = sizeof at;
  if (listener < 0 || bind(listener, (struct sockaddr *)&at, sizeof at) < 0 || listen(listener, 128) < 0 ||
      getsockname(listener, (struct sockaddr *)&at, &len) < 0) {
    perror("listen");
    return 1;
  }
  printf("proxying 127.0.0.1:%d\n", ntohs(at.sin_port));
  fflush(stdout);
  for (;;) {
    int client = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
    if (client < 0) continue;
    int upstream = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (upstream < 0 || connect(upstream, (struct sockaddr *)&up, sizeof up) < 0) {
      close(client);
      if (upstream >= 0) close(upstream);
      continue;
    }
    setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(upstream, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct conn *c = malloc(sizeof *c);
    c->client = client;
    c->upstream = upstream;
    atomic_init(&c->open_directions, 2);
    start(c, client, upstream);
    start(c, upstream, client);
  }
}
