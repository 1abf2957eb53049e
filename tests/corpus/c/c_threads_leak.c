// Worker threads that leak and exit (all joined): each worker leaks from its own site at its own call
// depth, one leaks a linked list (head definite, nodes indirect), one parks a block in a global
// (reachable), and one sets a pthread key with no destructor, so its value is lost when it exits.
// memcheck: same
// expect-exit: 0
// expect-summary: definite=361/3 indirect=48/3 possible=0/0 reachable=123/1
// expect-leak: definite 300/1 c_threads_leak.c:22
// expect-leak: definite 16/1 c_threads_leak.c:36
// expect-leak: definite 45/1 c_threads_leak.c:50
// expect-leak: indirect 48/3 c_threads_leak.c:36
// expect-leak: reachable 123/1 c_threads_leak.c:45
#include <pthread.h>
#include <stdlib.h>
#define ESCAPE(p) __asm__ volatile("" : : "g"(p) : "memory")

struct node { struct node *next; long v; };

void *volatile parked;
static pthread_key_t key;

__attribute__((noinline)) static void deep3(void) {
    void *p = malloc(300);
    ESCAPE(p);
}
__attribute__((noinline)) static void deep2(void) { deep3(); ESCAPE(0); }
__attribute__((noinline)) static void deep1(void) { deep2(); ESCAPE(0); }

static void *w_deep(void *arg) {
    deep1();
    return arg;
}

static void *w_list(void *arg) {
    struct node *head = NULL;
    for (int i = 0; i < 4; i++) {
        struct node *n = malloc(sizeof *n);
        n->next = head;
        head = n;
    }
    ESCAPE(head);
    return arg;
}

static void *w_park(void *arg) {
    parked = malloc(123);
    return arg;
}

static void *w_key(void *arg) {
    pthread_setspecific(key, malloc(45));
    return arg;
}

int main(void) {
    pthread_key_create(&key, NULL);
    void *(*fns[])(void *) = {w_deep, w_list, w_park, w_key};
    pthread_t t[4];
    for (int i = 0; i < 4; i++) pthread_create(&t[i], NULL, fns[i], NULL);
    for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
    return 0;
}
