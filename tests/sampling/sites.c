// Workload of the sampled-mode test (crates/leakscope/tests/sampling.rs): three sites leak blocks of one
// fixed size each, a fourth allocates and frees a lot (it must not appear), so the exact and the sampled
// runs can be compared site by site.
#include <stdlib.h>
#define ESCAPE(p) __asm__ volatile("" : : "g"(p) : "memory")

__attribute__((noinline)) static void small_blocks(void) {
    for (int i = 0; i < 40000; i++) { void *p = malloc(64); ESCAPE(p); }
}

__attribute__((noinline)) static void medium_blocks(void) {
    for (int i = 0; i < 8000; i++) { void *p = malloc(1000); ESCAPE(p); }
}

__attribute__((noinline)) static void large_blocks(void) {
    for (int i = 0; i < 50; i++) { void *p = malloc(200000); ESCAPE(p); }
}

__attribute__((noinline)) static void churn(void) {
    for (int i = 0; i < 200000; i++) { void *p = malloc(128); ESCAPE(p); free(p); }
}

int main(void) {
    small_blocks();
    medium_blocks();
    large_blocks();
    churn();
    return 0;
}
