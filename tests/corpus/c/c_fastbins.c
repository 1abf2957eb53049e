// Freed small blocks beyond what a thread's tcache holds go to glibc's fast bins, where they stay marked in
// use: sampled mode's heap walk must not take them (nor the tcache's) for blocks. Main and a thread each
// free thirty blocks of one size, then lose one block (definite).
// memcheck: same
// expect-exit: 0
// expect-summary: definite=156/2 indirect=0/0 possible=0/0 reachable=0/0
// expect-leak: definite 100/1 c_fastbins.c:30
// expect-leak: definite 56/1 c_fastbins.c:19
#include <pthread.h>
#include <stdlib.h>
#define ESCAPE(p) __asm__ volatile("" : : "g"(p) : "memory")

static void *work(void *arg) {
    void *p[30];
    for (int i = 0; i < 30; i++)
        p[i] = malloc(40);
    for (int i = 0; i < 30; i++)
        free(p[i]);
    void *kept = malloc(56);
    ESCAPE(kept);
    return kept;
}

int main(void) {
    void *p[30];
    for (int i = 0; i < 30; i++)
        p[i] = malloc(24);
    for (int i = 0; i < 30; i++)
        free(p[i]);
    void *lost = malloc(100);
    ESCAPE(lost);
    lost = 0;
    pthread_t t;
    void *r;
    pthread_create(&t, 0, work, 0);
    pthread_join(t, &r);
    ESCAPE(r);
    r = 0;
    return 0;
}
