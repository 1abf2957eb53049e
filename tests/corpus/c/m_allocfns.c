// Every allocation function of the C library, each leaking from its own line; realloc(p, 0) frees.
// memcheck: same
// expect-exit: 0
// expect-summary: definite=295/13 indirect=0/0 possible=0/0 reachable=0/0
// expect-leak: definite 5/1 m_allocfns.c:41
// expect-leak: definite 6/1 m_allocfns.c:39
// expect-leak: definite 11/1 m_allocfns.c:27
// expect-leak: definite 13/1 m_allocfns.c:29
// expect-leak: definite 13/1 m_allocfns.c:38
// expect-leak: definite 17/1 m_allocfns.c:31
// expect-leak: definite 19/1 m_allocfns.c:34
// expect-leak: definite 21/1 m_allocfns.c:28
// expect-leak: definite 23/1 m_allocfns.c:36
// expect-leak: definite 24/1 m_allocfns.c:33
// expect-leak: definite 29/1 m_allocfns.c:37
// expect-leak: definite 50/1 m_allocfns.c:30
// expect-leak: definite 64/1 m_allocfns.c:35
#define _GNU_SOURCE
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#define ESCAPE(p) __asm__ volatile("" : : "g"(p) : "memory")

int main(void) {
    void *p;
    p = malloc(11); ESCAPE(p);
    p = calloc(3, 7); ESCAPE(p);
    p = realloc(NULL, 13); ESCAPE(p);
    p = malloc(5); p = realloc(p, 50); ESCAPE(p);
    p = malloc(500); p = realloc(p, 17); ESCAPE(p);
    p = malloc(9); p = realloc(p, 0); ESCAPE(p);
    p = reallocarray(NULL, 4, 6); ESCAPE(p);
    if (posix_memalign(&p, 64, 19) == 0) ESCAPE(p);
    p = aligned_alloc(32, 64); ESCAPE(p);
    p = memalign(128, 23); ESCAPE(p);
    p = valloc(29); ESCAPE(p);
    p = strdup("hello, world"); ESCAPE(p);
    p = strndup("abcdefghijkl", 5); ESCAPE(p);
    char *s = NULL;
    if (asprintf(&s, "%d-%s", 42, "x") > 0) ESCAPE(s);
    p = NULL;
    return 0;
}
