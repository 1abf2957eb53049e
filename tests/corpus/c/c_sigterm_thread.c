// A worker thread sends SIGTERM to the process (kill(getpid())) while main waits in pthread_join: the
// default action kills the process (143); both threads' frames are live (reachable); the worker's DTV
// counted as Memcheck counts it.
// memcheck: same
// expect-exit: 143
// expect-summary: definite=151/1 indirect=0/0 possible=272/1 reachable=305/2
// expect-leak: definite 151/1 c_sigterm_thread.c:18
// expect-leak: possible 272/1 c_sigterm_thread.c:34
// expect-leak: reachable 152/1 c_sigterm_thread.c:23
// expect-leak: reachable 153/1 c_sigterm_thread.c:32
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>
#define ESCAPE(p) __asm__ volatile("" : : "g"(p) : "memory")

__attribute__((noinline)) static void lose(void) {
    void *p = malloc(151);
    ESCAPE(p);
}

static void *worker(void *arg) {
    void *volatile in_worker = malloc(152);
    lose();
    kill(getpid(), SIGTERM);
    for (;;) pause();
    ESCAPE(in_worker);
    return arg;
}

int main(void) {
    void *volatile in_main = malloc(153);
    pthread_t t;
    pthread_create(&t, NULL, worker, NULL);
    pthread_join(t, NULL);
    ESCAPE(in_main);
    return 0;
}
