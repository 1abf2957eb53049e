// A thread still blocked (in read on a pipe) when main returns: the block its frame holds is reachable,
// one it holds only through an interior pointer is possibly lost, a list hanging from its frame is
// reachable; its own thread structures (the DTV calloc'ed by pthread_create) show as Memcheck reports them.
// memcheck: same
// expect-exit: 0
// expect-summary: definite=0/0 indirect=0/0 possible=368/2 reachable=160/4
// expect-leak: possible 96/1 c_thread_blocked.c:26
// expect-leak: possible 272/1 c_thread_blocked.c:50
// expect-leak: reachable 64/1 c_thread_blocked.c:25
// expect-leak: reachable 96/3 c_thread_blocked.c:31
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#define ESCAPE(p) __asm__ volatile("" : : "g"(p) : "memory")

struct node { struct node *next; long v[3]; };

static int fds[2];
static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t c = PTHREAD_COND_INITIALIZER;
static int ready;

__attribute__((noinline)) static void *blocked(void *arg) {
    void *volatile held = malloc(64);
    char *p = malloc(96);
    memset(p, 0, 96);
    char *volatile inner = p + 40;
    struct node *volatile list = NULL;
    for (int i = 0; i < 3; i++) {
        struct node *n = calloc(1, sizeof *n);
        n->next = list;
        list = n;
    }
    p = 0;
    pthread_mutex_lock(&m);
    ready = 1;
    pthread_cond_signal(&c);
    pthread_mutex_unlock(&m);
    char b;
    while (read(fds[0], &b, 1) != 0) {}
    ESCAPE(held);
    ESCAPE(inner);
    return arg;
}

int main(void) {
    if (pipe(fds)) return 1;
    pthread_t t;
    pthread_create(&t, NULL, blocked, NULL);
    pthread_mutex_lock(&m);
    while (!ready) pthread_cond_wait(&c, &m);
    pthread_mutex_unlock(&m);
    return 0;
}
