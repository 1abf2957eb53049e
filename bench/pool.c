/* pool: R rounds (argv[1]) of 64 threads started together, each running 50 passes of 64 malloc/free pairs
   of 16..500 bytes, then joined: a server's short-lived workers. More threads than any per-thread state
   the tool keeps for the first few, and thread starts and exits all the time. Prints one checksum line. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

enum { THREADS = 64, PASSES = 50, BLOCKS = 64 };

static void *work(void *arg) {
    long sum = 0;
    char *keep[BLOCKS];
    for (int r = 0; r < PASSES; r++) {
        for (int i = 0; i < BLOCKS; i++) {
            keep[i] = malloc(16 + (i * 24) % 485);
            keep[i][0] = (char)i;
        }
        for (int i = 0; i < BLOCKS; i++) {
            sum += keep[i][0];
            free(keep[i]);
        }
    }
    return (void *)(sum + (long)arg);
}

int main(int argc, char **argv) {
    int rounds = argc > 1 ? atoi(argv[1]) : 100;
    long total = 0;
    for (int r = 0; r < rounds; r++) {
        pthread_t t[THREADS];
        for (long i = 0; i < THREADS; i++)
            pthread_create(&t[i], NULL, work, (void *)i);
        for (int i = 0; i < THREADS; i++) {
            void *v;
            pthread_join(t[i], &v);
            total += (long)v;
        }
    }
    printf("pool %d rounds checksum %ld\n", rounds, total);
    return 0;
}
