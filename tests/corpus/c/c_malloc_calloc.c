// malloc and calloc, freed and leaked. malloc(0) and calloc(0, n) return distinct blocks of 0 bytes that
// leak like any other (0 bytes in 1 block); calloc(n, size) is one block of n*size bytes; blocks above the
// mmap threshold (mmap'ed chunks natively) leak the same way; free(NULL) and an overflowing calloc (NULL)
// leave nothing.
// memcheck: same
// expect-exit: 0
// expect-summary: definite=1248697/6 indirect=0/0 possible=0/0 reachable=0/0
// expect-leak: definite 1/1 c_malloc_calloc.c:21
// expect-leak: definite 0/1 c_malloc_calloc.c:26
// expect-leak: definite 0/1 c_malloc_calloc.c:28
// expect-leak: definite 120/1 c_malloc_calloc.c:30
// expect-leak: definite 200000/1 c_malloc_calloc.c:35
// expect-leak: definite 1048576/1 c_malloc_calloc.c:37
#include <stdlib.h>
#define ESCAPE(p) __asm__ volatile("" : : "g"(p) : "memory")

volatile size_t huge = (size_t)-1 / 2;

int main(void) {
    void *p;
    p = malloc(1);
    ESCAPE(p);
    p = malloc(100);
    ESCAPE(p);
    free(p);
    p = malloc(0);
    ESCAPE(p);
    p = calloc(0, 16);
    ESCAPE(p);
    p = calloc(10, 12);
    ESCAPE(p);
    p = calloc(1, 4096);
    ESCAPE(p);
    free(p);
    p = calloc(1, 200000);
    ESCAPE(p);
    p = malloc(1 << 20);
    ESCAPE(p);
    p = malloc(300000);
    ESCAPE(p);
    free(p);
    free(NULL);
    p = calloc(huge, 4);
    ESCAPE(p);
    p = 0;
    return 0;
}
