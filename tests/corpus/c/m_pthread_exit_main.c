// main ends with pthread_exit while a worker still runs; the process ends when the worker returns (glibc's
// last thread calls exit(0)). The agent's own thread must not keep the process alive, and the scan must
// work although the main thread is a zombie. The worker's DTV (272 bytes, possibly lost) is glibc's.
// memcheck: same
// light: differs: stale copies of a lost block's address in memory light mode does not zero
// expect-exit: 0
// expect-summary: definite=42/2 indirect=0/0 possible=272/1 reachable=11/1
// expect-leak: reachable 11/1 m_pthread_exit_main.c:29
// expect-leak: definite 12/1 m_pthread_exit_main.c:30
// expect-leak: definite 30/1 m_pthread_exit_main.c:22
// expect-leak: possible 272/1 m_pthread_exit_main.c:33
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>
#define ESCAPE(p) __asm__ volatile("" : : "g"(p) : "memory")

void *volatile kept;

static void *worker(void *arg) {
    (void)arg;
    usleep(50000);
    void *p = malloc(30);
    ESCAPE(p);
    return NULL;
}

int main(void) {
    pthread_t t;
    kept = malloc(11);
    void *q = malloc(12);
    ESCAPE(q);
    q = NULL;
    pthread_create(&t, NULL, worker, NULL);
    pthread_exit(NULL);
}
