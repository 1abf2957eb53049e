/* stacks: allocations from about a million distinct call stacks (a recursion 20 deep that picks one of two
   call sites at each level), 64 Ki blocks live at a time. Shows what a tool costs per distinct stack: its
   stack table, per-site counters and the report's work per site. `stacks N DEPTH` recurses DEPTH deep
   instead: bench/run's `paths` is DEPTH 12 (4096 stacks of 14 frames: rec tail-calls left or right), where
   consecutive stacks mostly part near the outermost frame, so a tool can reuse little of the walk before.
   Neither is in the default set (bench/run --workloads stacks,paths). Prints one line. */
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
    int depth = argc > 2 ? atoi(argv[2]) : 20;
    for (long i = 0; i < n; i++) {
        void **slot = &keep[i & 0xffff];
        free(*slot);
        *slot = rec(depth);
    }
    printf("stacks %ld allocations\n", n);
    return 0;
}
