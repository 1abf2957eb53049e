// pvalloc: the block is the size rounded up to whole pages (the program may use all of it), as newer
// Valgrind versions report it (memalign of the page-rounded size). Valgrind 3.19 does not implement
// pvalloc (the program is aborted), so this expectation is leakscope's own.
// memcheck: differs: Valgrind 3.19 aborts the program at pvalloc
// expect-exit: 0
// expect-summary: definite=4096/1 indirect=0/0 possible=0/0 reachable=0/0
// expect-leak: definite 4096/1 m_pvalloc.c:12
#include <malloc.h>
#define ESCAPE(p) __asm__ volatile("" : : "g"(p) : "memory")
int main(void) {
    void *p;
    p = pvalloc(31);
    ESCAPE(p);
    p = 0;
    return 0;
}
