// abort() three frames below main (SIGABRT, 134): every frame is live, so what each holds is reachable;
// a block lost before is definite; a block reachable only through a pointer into its middle held by a
// live frame is possibly lost.
// memcheck: same
// expect-exit: 134
// expect-summary: definite=101/1 indirect=0/0 possible=104/1 reachable=205/2
// expect-leak: definite 101/1 c_abort_nested.c:16
// expect-leak: possible 104/1 c_abort_nested.c:21
// expect-leak: reachable 102/1 c_abort_nested.c:29
// expect-leak: reachable 103/1 c_abort_nested.c:35
#include <stdlib.h>
#include <string.h>
#define ESCAPE(p) __asm__ volatile("" : : "g"(p) : "memory")

__attribute__((noinline)) static void lose(void) {
    void *p = malloc(101);
    ESCAPE(p);
}

__attribute__((noinline)) static void level3(void) {
    char *p = calloc(1, 104);
    char *volatile mid = p + 52;
    p = 0;
    abort();
    ESCAPE(mid);
}

__attribute__((noinline)) static void level2(void) {
    void *volatile in2 = malloc(102);
    level3();
    ESCAPE(in2);
}

int main(void) {
    void *volatile in_main = malloc(103);
    lose();
    level2();
    ESCAPE(in_main);
    return 0;
}
