// Worker threads that leak and exit, a thread still blocked at exit holding a block on its stack, and a
// block reachable only from a __thread variable of the main thread.
// memcheck: same
// expect-exit: 0
// expect-summary: definite=406/4 indirect=0/0 possible=288/1 reachable=132/2
// expect-leak: reachable 55/1 m_threads.c:50
// expect-leak: reachable 77/1 m_threads.c:32
// expect-leak: possible 288/1 m_threads.c:43
// expect-leak: definite 406/4 m_threads.c:26
// expect-exit[O2]: 0
// expect-summary[O2]: definite=406/4 indirect=0/0 possible=272/1 reachable=77/1
// expect-leak[O2]: reachable 77/1 m_threads.c:32
// expect-leak[O2]: possible 272/1 m_threads.c:43
// expect-leak[O2]: definite 406/4 m_threads.c:26
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>
#define ESCAPE(p) __asm__ volatile("" : : "g"(p) : "memory")

static __thread void *tls_keep;
static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t c = PTHREAD_COND_INITIALIZER;
static int ready;

__attribute__((noinline)) static void *worker(void *arg) {
    void *p = malloc(100 + (long)arg);
    ESCAPE(p);
    return NULL;
}

__attribute__((noinline)) static void *blocker(void *arg) {
    void *volatile held = malloc(77);
    pthread_mutex_lock(&m);
    ready = 1;
    pthread_cond_signal(&c);
    pthread_mutex_unlock(&m);
    for (;;) pause();
    return (void *)held;
}

int main(void) {
    pthread_t t[4];
    for (long i = 0; i < 4; i++) pthread_create(&t[i], NULL, worker, (void *)i);
    for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
    pthread_t b;
    pthread_create(&b, NULL, blocker, NULL);
    pthread_mutex_lock(&m);
    while (!ready) pthread_cond_wait(&c, &m);
    pthread_mutex_unlock(&m);
    tls_keep = malloc(55);
    return 0;
}
