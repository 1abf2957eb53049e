// Two million small allocations, all freed, through several sites: nothing is reported.
// memcheck: skip: two million allocations take too long under Memcheck for the test suite
// expect-exit: 0
// expect-summary: definite=0/0 indirect=0/0 possible=0/0 reachable=0/0
#include <stdlib.h>
#define ESCAPE(p) __asm__ volatile("" : : "g"(p) : "memory")
static void *slots[512];
int main(void) {
    unsigned x = 1;
    for (int i = 0; i < 2000000; i++) {
        x = x * 1103515245 + 12345;
        unsigned k = (x >> 8) % 512;
        free(slots[k]);
        slots[k] = (x & 1) ? malloc(16 + (x >> 24) % 200) : calloc(1, 24);
        ESCAPE(slots[k]);
    }
    for (int k = 0; k < 512; k++) free(slots[k]);
    return 0;
}
