/* tree: a binary search tree of N (argv[1]) 24-byte nodes with random keys, all reachable at exit. Its time
   is the program's own pointer chasing, so it shows what a tool's per-block memory does to a memory-bound
   program (a larger chunk per node), and the exit scan meets pointers scattered over a large heap. Not in
   the default set (bench/run --workloads tree). Prints one line. */
#include <stdio.h>
#include <stdlib.h>
struct node { struct node *l, *r; unsigned long k; };
int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 3000000;
    struct node *root = NULL;
    unsigned long x = 88172645463325252UL, depth = 0;
    for (long i = 0; i < n; i++) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        struct node *z = malloc(sizeof *z);
        z->l = z->r = NULL; z->k = x;
        struct node **p = &root; unsigned long d = 0;
        while (*p) { p = x < (*p)->k ? &(*p)->l : &(*p)->r; d++; }
        *p = z; if (d > depth) depth = d;
    }
    printf("tree %ld nodes depth %lu\n", n, depth);
    return 0;
}
