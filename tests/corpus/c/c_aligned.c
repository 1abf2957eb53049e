// Aligned allocations: posix_memalign, aligned_alloc, memalign, valloc, at small and page alignments,
// leaked and freed; the reported size is the requested one; a posix_memalign with an invalid alignment
// fails (EINVAL) and allocates nothing.
// memcheck: same
// expect-exit: 0
// expect-summary: definite=3144/5 indirect=0/0 possible=0/0 reachable=0/0
// expect-leak: definite 10/1 c_aligned.c:19
// expect-leak: definite 128/1 c_aligned.c:22
// expect-leak: definite 5/1 c_aligned.c:27
// expect-leak: definite 3000/1 c_aligned.c:29
// expect-leak: definite 1/1 c_aligned.c:31
#include <malloc.h>
#include <stdlib.h>
#define ESCAPE(p) __asm__ volatile("" : : "g"(p) : "memory")

int main(void) {
    void *p = 0;
    if (posix_memalign(&p, 16, 100) == 0) free(p);
    if (posix_memalign(&p, 4096, 10) == 0) ESCAPE(p);
    if (posix_memalign(&p, 3, 10) != 0) p = 0;
    ESCAPE(p);
    p = aligned_alloc(64, 128);
    ESCAPE(p);
    p = aligned_alloc(256, 256);
    ESCAPE(p);
    free(p);
    p = memalign(8, 5);
    ESCAPE(p);
    p = memalign(1024, 3000);
    ESCAPE(p);
    p = valloc(1);
    ESCAPE(p);
    p = valloc(5000);
    ESCAPE(p);
    free(p);
    p = 0;
    return 0;
}
