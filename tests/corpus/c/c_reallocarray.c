// reallocarray: from NULL, growing a block, shrinking it, and an overflowing request (fails with NULL,
// the old block is left as it was and leaks from its own line).
// memcheck: same
// expect-exit: 0
// expect-summary: definite=147/4 indirect=0/0 possible=0/0 reachable=0/0
// expect-leak: definite 20/1 c_reallocarray.c:18
// expect-leak: definite 96/1 c_reallocarray.c:22
// expect-leak: definite 24/1 c_reallocarray.c:26
// expect-leak: definite 7/1 c_reallocarray.c:28
#define _GNU_SOURCE
#include <stdint.h>
#include <stdlib.h>
#define ESCAPE(p) __asm__ volatile("" : : "g"(p) : "memory")

volatile size_t big = SIZE_MAX / 4;

int main(void) {
    int *a = reallocarray(NULL, 5, sizeof(int));
    ESCAPE(a);
    long *b = malloc(8);
    ESCAPE(b);
    b = reallocarray(b, 12, sizeof(long));
    ESCAPE(b);
    long *c = malloc(400);
    ESCAPE(c);
    c = reallocarray(c, 3, sizeof(long));
    ESCAPE(c);
    char *d = malloc(7);
    ESCAPE(d);
    char *e = reallocarray(d, big, 8);
    ESCAPE(e);
    ESCAPE(d);
    a = 0;
    b = 0;
    c = 0;
    d = 0;
    return 0;
}
