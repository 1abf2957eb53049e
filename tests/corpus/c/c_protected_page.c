// A program makes a page inside one of its heap blocks inaccessible (a guard page, as in a malloc'ed
// coroutine stack): the scan must skip that page, not crash the program at exit. The block stays reachable
// from a global; a block lost on the way is definite. Sampled mode does not walk a heap with such a page
// (it warns and reports the blocks it tracked).
// memcheck: same
// light: skip: the main heap holds a page the program protected, so sampled mode does not walk it
// expect-exit: 0
// expect-summary: definite=50/1 indirect=0/0 possible=0/0 reachable=101000/2
// expect-leak: definite 50/1 c_protected_page.c:24
// expect-leak: reachable 1000/1 c_protected_page.c:20
// expect-leak: reachable 100000/1 c_protected_page.c:21
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#define ESCAPE(p) __asm__ volatile("" : : "g"(p) : "memory")

void *volatile keep[2];

int main(void) {
    keep[0] = malloc(1000);
    keep[1] = malloc(100000);
    char *page = (char *)(((uintptr_t)keep[1] + 8191) & ~(uintptr_t)4095);
    mprotect(page, 4096, PROT_NONE);
    void *lost = malloc(50);
    ESCAPE(lost);
    lost = 0;
    return 0;
}
