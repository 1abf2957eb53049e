/* churn_threads.c THREADS - threads replacing blocks in slot arrays as fast as they can, for live checks
 * while malloc and free run on every core (sampled mode's heap walk must then neither miss a block nor take
 * a free chunk for one). Before the threads start, main loses 100 blocks of 40 bytes (definitely lost).
 * Each thread keeps SLOTS blocks of 16-2000 bytes in its slots, plus one while a replacement is under way:
 * the blocks in use at any moment are 100 + THREADS * SLOTS (+ at most THREADS). Runs until SIGTERM. */
#include "common.h"
#include <pthread.h>

#define SLOTS 500
#define LOST 100

static void *slots[16][SLOTS];

SITE static void lose(void)
{
    for (int i = 0; i < LOST; i++) {
        char *p = malloc(40);
        memset(p, 'x', 40);
        __asm__ volatile("" : : "g"(p) : "memory");
    }
}

SITE static void *worker(void *arg)
{
    void **mine = slots[(long)arg];
    uint64_t x = 0x9E3779B97F4A7C15ULL ^ (uint64_t)(long)arg;
    for (int i = 0; i < SLOTS; i++)
        mine[i] = malloc(16);
    while (!stop_requested) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        int i = x % SLOTS;
        void *fresh = malloc(16 + (x >> 32) % 1985);
        void *old = mine[i];
        mine[i] = fresh;
        free(old);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    (void)rnd, (void)keep_running; /* common.h's, not needed here */
    long threads = argc > 1 ? atol(argv[1]) : 2;
    if (threads < 1 || threads > 16)
        threads = 2;
    lose();
    pthread_t t[16];
    for (long i = 0; i < threads; i++)
        pthread_create(&t[i], NULL, worker, (void *)i);
    setup(1);
    for (long i = 0; i < threads; i++)
        pthread_join(t[i], NULL);
    return 0;
}
