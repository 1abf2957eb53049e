// Dangling pointers to freed blocks whose memory malloc hands out again. A global array keeps the pointers
// of three freed 40-byte blocks, then three new 40-byte blocks are allocated and dropped: natively they
// reuse the freed addresses (glibc's tcache), so the dangling pointers point at them; Memcheck never reuses
// freed memory at once (its freed-blocks queue), so for it the dangling pointers point at nothing and the new
// blocks are definitely lost. Likewise a leaked block holding dangling pointers: Memcheck sees no edge from
// it to the blocks allocated afterwards (they are definite, not indirect). The header is Memcheck's.
// memcheck: same
// light: differs: without the quarantine freed blocks are reused at once, and stale pointers to the old ones point into the new
// expect-exit: 0
// expect-summary: definite=360/7 indirect=0/0 possible=0/0 reachable=0/0
// expect-leak: definite 336/6 c_dangling_reuse.c:19
// expect-leak: definite 24/1 c_dangling_reuse.c:28
#include <stdlib.h>
#define ESCAPE(p) __asm__ volatile("" : : "g"(p) : "memory")

void *volatile dangling[3];

__attribute__((noinline)) static void lose(size_t n) {
    void *p = malloc(n);
    ESCAPE(p);
}

int main(void) {
    for (int i = 0; i < 3; i++) dangling[i] = malloc(40);
    for (int i = 0; i < 3; i++) free(dangling[i]);
    for (int i = 0; i < 3; i++) lose(40);

    void **holder = malloc(3 * sizeof *holder);
    for (int i = 0; i < 3; i++) holder[i] = malloc(72);
    for (int i = 0; i < 3; i++) free(holder[i]);
    for (int i = 0; i < 3; i++) lose(72);
    ESCAPE(holder);
    holder = 0;
    return 0;
}
