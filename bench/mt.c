/* mt: T threads (argv[1]), each running N (argv[2]) malloc/free operations on its own 1000-slot table with
   8..512-byte blocks; no memory crosses threads, so any serialization comes from the allocator or the tool. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static long iters;

static void *worker(void *arg) {
    unsigned long x = 88172645463325252UL ^ (unsigned long)(size_t)arg;
    void *slot[1000] = {0};
    for (long i = 0; i < iters; i++) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        int k = (int)(x % 1000);
        free(slot[k]);
        slot[k] = malloc(8 + (x >> 20) % 505);
    }
    for (int k = 0; k < 1000; k++) free(slot[k]);
    return NULL;
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 2;
    long total = argc > 2 ? atol(argv[2]) : 4000000;
    iters = total;
    pthread_t t[64];
    for (int i = 0; i < threads && i < 64; i++) pthread_create(&t[i], NULL, worker, (void *)(size_t)(i + 1));
    for (int i = 0; i < threads && i < 64; i++) pthread_join(t[i], NULL);
    printf("mt %d threads x %ld ops\n", threads, total);
    return 0;
}
