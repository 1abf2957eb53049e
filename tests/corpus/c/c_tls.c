// __thread variables as roots: the main thread's keeps its block reachable; a thread blocked at exit keeps
// its own; a joined thread's TLS is gone with it (its block definite).
// memcheck: same
// expect-exit: 0
// expect-summary: definite=31/1 indirect=0/0 possible=288/1 reachable=60/2
// expect-leak: definite 31/1 c_tls.c:23
// expect-leak: possible 288/1 c_tls.c:43
// expect-leak: reachable 47/1 c_tls.c:29
// expect-leak: reachable 13/1 c_tls.c:41
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>
#define ESCAPE(p) __asm__ volatile("" : : "g"(p) : "memory")

static __thread void *volatile tls_slot;
static __thread char tls_pad[100];
static int fds[2];
static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t c = PTHREAD_COND_INITIALIZER;
static int ready;

static void *joined(void *arg) {
    tls_slot = malloc(31);
    tls_pad[0] = 1;
    return arg;
}

static void *blocked(void *arg) {
    tls_slot = malloc(47);
    pthread_mutex_lock(&m);
    ready = 1;
    pthread_cond_signal(&c);
    pthread_mutex_unlock(&m);
    char b;
    while (read(fds[0], &b, 1) != 0) {}
    return arg;
}

int main(void) {
    if (pipe(fds)) return 1;
    tls_slot = malloc(13);
    pthread_t t;
    pthread_create(&t, NULL, joined, NULL);
    pthread_join(t, NULL);
    pthread_create(&t, NULL, blocked, NULL);
    pthread_mutex_lock(&m);
    while (!ready) pthread_cond_wait(&c, &m);
    pthread_mutex_unlock(&m);
    ESCAPE(tls_pad);
    return 0;
}
