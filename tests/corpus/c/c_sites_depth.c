// Allocation sites at different call depths (1 to 4 frames below main): the site is the line that calls
// malloc whatever the depth; a wrapper's malloc line is the site for all its callers (its loss records, one
// per caller stack, are summed); a recursive function allocates at one site from five depths.
// memcheck: same
// expect-exit: 0
// expect-summary: definite=300/12 indirect=0/0 possible=0/0 reachable=0/0
// expect-leak: definite 30/1 c_sites_depth.c:23
// expect-leak: definite 20/1 c_sites_depth.c:29
// expect-leak: definite 10/1 c_sites_depth.c:35
// expect-leak: definite 40/5 c_sites_depth.c:40
// expect-leak: definite 60/1 c_sites_depth.c:62
// expect-leak: definite 140/3 c_sites_depth.c:17
#include <stdlib.h>
#define ESCAPE(p) __asm__ volatile("" : : "g"(p) : "memory")

__attribute__((noinline)) static void *xmalloc(size_t n) {
    void *p = malloc(n);
    if (!p) abort();
    return p;
}

__attribute__((noinline)) static void d3(void) {
    void *p = malloc(30);
    ESCAPE(p);
}

__attribute__((noinline)) static void d2(void) {
    d3();
    void *p = malloc(20);
    ESCAPE(p);
}

__attribute__((noinline)) static void d1(void) {
    d2();
    void *p = malloc(10);
    ESCAPE(p);
}

__attribute__((noinline)) static void rec(int depth) {
    void *p = malloc(8);
    ESCAPE(p);
    if (depth > 0) rec(depth - 1);
    ESCAPE(depth);
}

__attribute__((noinline)) static void caller_a(void) {
    void *p = xmalloc(40);
    ESCAPE(p);
}

__attribute__((noinline)) static void caller_b(void) {
    void *p = xmalloc(50);
    ESCAPE(p);
}

int main(void) {
    d1();
    rec(4);
    caller_a();
    caller_b();
    caller_b();
    void *p = malloc(60);
    ESCAPE(p);
    p = 0;
    return 0;
}
