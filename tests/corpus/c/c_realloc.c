// realloc: grow, shrink (in place natively, a new block under Memcheck: either way the site is the
// realloc line), realloc(NULL, n) (= malloc), realloc(p, 0) (frees, returns NULL), a chain of reallocs
// (the last one is the site), a realloc'ed buffer held by a lost struct (indirect), and a freed realloc.
// memcheck: same
// expect-exit: 0
// expect-summary: definite=1315/5 indirect=80/1 possible=0/0 reachable=0/0
// expect-leak: definite 256/1 c_realloc.c:22
// expect-leak: definite 16/1 c_realloc.c:29
// expect-leak: definite 1000/1 c_realloc.c:40
// expect-leak: definite 10/1 c_realloc.c:44
// expect-leak: definite 33/1 c_realloc.c:46
// expect-leak: indirect 80/1 c_realloc.c:31
#include <stdlib.h>
#define ESCAPE(p) __asm__ volatile("" : : "g"(p) : "memory")

struct holder { char *buf; long n; };

__attribute__((noinline)) static char *grow_chain(void) {
    char *p = malloc(1);
    ESCAPE(p);
    for (size_t n = 2; n <= 256; n *= 2) {
        p = realloc(p, n);
        ESCAPE(p);
    }
    return p;
}

__attribute__((noinline)) static void lose_holder(void) {
    struct holder *h = malloc(sizeof *h);
    h->buf = malloc(8);
    h->buf = realloc(h->buf, 80);
    h->n = 80;
    ESCAPE(h);
}

int main(void) {
    char *p;
    p = malloc(10);
    ESCAPE(p);
    p = realloc(p, 1000);
    ESCAPE(p);
    p = malloc(1000);
    ESCAPE(p);
    p = realloc(p, 10);
    ESCAPE(p);
    p = realloc(NULL, 33);
    ESCAPE(p);
    p = malloc(44);
    ESCAPE(p);
    p = realloc(p, 0);
    ESCAPE(p);
    p = grow_chain();
    ESCAPE(p);
    lose_holder();
    p = malloc(50);
    ESCAPE(p);
    p = realloc(p, 60);
    ESCAPE(p);
    free(p);
    p = 0;
    return 0;
}
