/* paths: allocations at the end of pseudo-random paths through a binary tree of calls 12 levels deep
   (4096 distinct stacks of 14 frames: rec tail-calls left or right), 64 Ki blocks live at a time.
   Consecutive stacks mostly part near the outermost frame, so a tool can reuse little of the walk before:
   what a full unwind costs, and a stack table larger than a thread's cache of recent stacks. Not in the
   default set (bench/run --workloads paths). Prints one line. */
#include <stdio.h>
#include <stdlib.h>

static unsigned long x = 88172645463325252UL;
static void *keep[1 << 16];

__attribute__((noinline)) void *rec(int d);
__attribute__((noinline)) void *left(int d) { void *p = rec(d - 1); __asm__ volatile(""); return p; }
__attribute__((noinline)) void *right(int d) { void *p = rec(d - 1); __asm__ volatile(""); return p; }
__attribute__((noinline)) void *rec(int d) {
    if (d == 0) return malloc(32);
    x ^= x << 13; x ^= x >> 7; x ^= x << 17;
    return (x & 1) ? left(d) : right(d);
}

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 2000000;
    for (long i = 0; i < n; i++) {
        void **slot = &keep[i & 0xffff];
        free(*slot);
        *slot = rec(12);
    }
    printf("paths %ld allocations\n", n);
    return 0;
}
