// Allocations along pseudo-random paths through a binary tree of calls eight levels deep (256 distinct
// stacks): consecutive stacks mostly part near the outermost frame, where a walk can reuse least of the
// walk before it. Every third block is leaked, the others freed. The site is the one malloc line; the loss
// records (one per path) must carry the stacks the reference unwinder gives.
// memcheck: same
// expect-exit: 0
// expect-summary: definite=24000/1000 indirect=0/0 possible=0/0 reachable=0/0
// expect-leak: definite 24000/1000 c_random_paths.c:23
#include <stdlib.h>
#define ESCAPE(p) __asm__ volatile("" : : "g"(p) : "memory")

static unsigned long state = 88172645463325252UL;
static unsigned long lefts, rights; // make the two bodies differ: gcc would fold identical ones into one

__attribute__((noinline)) void *path(int depth);

__attribute__((noinline)) static void *left(int depth) { void *p = path(depth - 1); lefts++; return p; }

__attribute__((noinline)) static void *right(int depth) { void *p = path(depth - 1); rights += 2; return p; }

__attribute__((noinline)) void *path(int depth) {
    if (depth == 0) {
        void *p = malloc(24);
        ESCAPE(p); // not a tail call: path stays on the stack
        return p;
    }
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return (state & 1) ? left(depth) : right(depth);
}

int main(void) {
    for (int i = 0; i < 3000; i++) {
        void *p = path(8);
        ESCAPE(p);
        if (i % 3 != 0)
            free(p);
    }
    return 0;
}
