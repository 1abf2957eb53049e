// Two million small allocations (malloc, calloc, realloc; sizes 1 to 256), all freed through a sliding
// window of live blocks (the window is cleared, leaving no stale pointers to memory that malloc reuses),
// then exactly three leaks from distinct lines.
// memcheck: same
// light: differs: glibc's free-list links left in reused memory light mode does not zero can point from one lost block into another
// expect-exit: 0
// expect-summary: definite=3006/3 indirect=0/0 possible=0/0 reachable=0/0
// expect-leak: definite 1001/1 c_churn_2m.c:40
// expect-leak: definite 1002/1 c_churn_2m.c:42
// expect-leak: definite 1003/1 c_churn_2m.c:44
#include <stdlib.h>
#include <string.h>
#define ESCAPE(p) __asm__ volatile("" : : "g"(p) : "memory")

#define WINDOW 1024

int main(void) {
    static void *live[WINDOW];
    unsigned x = 12345;
    for (long i = 0; i < 2000000; i++) {
        x = x * 1103515245u + 12345u;
        size_t n = 1 + (x >> 16) % 256;
        unsigned slot = (x >> 8) % WINDOW;
        free(live[slot]);
        switch (i % 4) {
        case 0: live[slot] = malloc(n); break;
        case 1: live[slot] = calloc(1, n); break;
        case 2: live[slot] = realloc(NULL, n); break;
        default:
            live[slot] = malloc(n / 2 + 1);
            live[slot] = realloc(live[slot], n);
            break;
        }
        memset(live[slot], 1, n);
    }
    for (int i = 0; i < WINDOW; i++) {
        free(live[i]);
        live[i] = NULL;
    }
    void *p = malloc(1001);
    ESCAPE(p);
    p = calloc(1, 1002);
    ESCAPE(p);
    p = realloc(NULL, 1003);
    ESCAPE(p);
    p = 0;
    return 0;
}
