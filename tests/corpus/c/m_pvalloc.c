// pvalloc: the requested size is reported (glibc rounds the block up to a page). Valgrind 3.19 does not
// implement pvalloc (the program is aborted), so this expectation is leakscope's own, by the same rules.
// memcheck: differs: Valgrind 3.19 aborts the program at pvalloc
// expect-exit: 0
// expect-summary: definite=31/1 indirect=0/0 possible=0/0 reachable=0/0
// expect-leak: definite 31/1 m_pvalloc.c:11
#include <malloc.h>
#define ESCAPE(p) __asm__ volatile("" : : "g"(p) : "memory")
int main(void) {
    void *p;
    p = pvalloc(31);
    ESCAPE(p);
    p = 0;
    return 0;
}
