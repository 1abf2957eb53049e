// A global left dangling by a thread that freed its block and exited: the exited thread's freed blocks
// stay held back (Memcheck's freed-blocks queue), so the next thread's leaked block does not take that
// address and the dangling pointer does not make it look reachable.
// memcheck: same
// light: differs: without the quarantine the freed block's address is reused while a stale copy remains
// expect-exit: 0
// expect-summary: definite=40/1 indirect=0/0 possible=0/0 reachable=0/0
// expect-leak: definite 40/1 c_thread_freed_reuse.c:22
#include <pthread.h>
#include <stdlib.h>

static void *volatile dangling;
static volatile unsigned long scrambled;

static void *first(void *arg) {
    dangling = malloc(40);
    free(dangling);
    return arg;
}

static void *second(void *arg) {
    scrambled = (unsigned long)malloc(40) ^ 0xa5a5a5a5a5a5a5a5ul; // leaked: only a scrambled copy kept
    return arg;
}

int main(void) {
    pthread_t t;
    pthread_create(&t, NULL, first, NULL);
    pthread_join(t, NULL);
    pthread_create(&t, NULL, second, NULL);
    pthread_join(t, NULL);
    return 0;
}
