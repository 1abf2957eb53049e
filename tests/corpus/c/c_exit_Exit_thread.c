// _Exit(5) called by a worker thread while main waits in pthread_join: both threads' frames are live, so
// what they hold is reachable; a block the worker lost earlier is definite; the worker's DTV (calloc'ed by
// pthread_create) is counted as Memcheck counts it.
// memcheck: same
// expect-exit: 5
// expect-summary: definite=91/1 indirect=0/0 possible=272/1 reachable=185/2
// expect-leak: definite 91/1 c_exit_Exit_thread.c:16
// expect-leak: possible 272/1 c_exit_Exit_thread.c:31
// expect-leak: reachable 92/1 c_exit_Exit_thread.c:21
// expect-leak: reachable 93/1 c_exit_Exit_thread.c:29
#include <pthread.h>
#include <stdlib.h>
#define ESCAPE(p) __asm__ volatile("" : : "g"(p) : "memory")

__attribute__((noinline)) static void lose(void) {
    void *p = malloc(91);
    ESCAPE(p);
}

static void *worker(void *arg) {
    void *volatile in_worker = malloc(92);
    lose();
    _Exit(5);
    ESCAPE(in_worker);
    return arg;
}

int main(void) {
    void *volatile in_main = malloc(93);
    pthread_t t;
    pthread_create(&t, NULL, worker, NULL);
    pthread_join(t, NULL);
    ESCAPE(in_main);
    return 0;
}
