// exit(6) called by a worker thread while main waits in pthread_join: atexit handlers run on the worker;
// both threads' frames stay live (reachable); a block leaked by the handler is definite.
// memcheck: same
// expect-exit: 6
// expect-summary: definite=61/1 indirect=0/0 possible=272/1 reachable=125/2
// expect-leak: definite 61/1 c_exit_from_thread.c:15
// expect-leak: possible 272/1 c_exit_from_thread.c:30
// expect-leak: reachable 62/1 c_exit_from_thread.c:20
// expect-leak: reachable 63/1 c_exit_from_thread.c:28
#include <pthread.h>
#include <stdlib.h>
#define ESCAPE(p) __asm__ volatile("" : : "g"(p) : "memory")

static void at_exit(void) {
    void *p = malloc(61);
    ESCAPE(p);
}

static void *worker(void *arg) {
    void *volatile in_worker = malloc(62);
    exit(6);
    ESCAPE(in_worker);
    return arg;
}

int main(void) {
    atexit(at_exit);
    void *volatile in_main = malloc(63);
    pthread_t t;
    pthread_create(&t, NULL, worker, NULL);
    pthread_join(t, NULL);
    ESCAPE(in_main);
    return 0;
}
