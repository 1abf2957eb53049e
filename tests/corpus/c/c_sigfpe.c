// An integer division by zero (SIGFPE, 136): live frames' blocks reachable, the lost one definite. At -O0 a
// stale copy of the lost pointer is left in divide()'s never-written stack slots (lose()'s old frame):
// Memcheck does not count it (a new frame's stack is undefined until written), so the block is definite.
// memcheck: same
// memcheck[O0]: differs: the stale copy in divide()'s unwritten slot is undefined for Memcheck (definite=131/1
// reachable=265/2) but a pointer for a native scan, which cannot know definedness (README, Limits)
// expect-summary[O0]: definite=0/0 indirect=0/0 possible=0/0 reachable=396/3
// expect-leak[O0]: reachable 131/1 c_sigfpe.c:22
// expect-leak[O0]: reachable 132/1 c_sigfpe.c:27
// expect-leak[O0]: reachable 133/1 c_sigfpe.c:34
// expect-exit: 136
// expect-summary: definite=131/1 indirect=0/0 possible=0/0 reachable=265/2
// expect-leak: definite 131/1 c_sigfpe.c:22
// expect-leak: reachable 132/1 c_sigfpe.c:27
// expect-leak: reachable 133/1 c_sigfpe.c:34
#include <stdlib.h>
#define ESCAPE(p) __asm__ volatile("" : : "g"(p) : "memory")

volatile int zero = 0;

__attribute__((noinline)) static void lose(void) {
    void *p = malloc(131);
    ESCAPE(p);
}

__attribute__((noinline)) static int divide(int a) {
    void *volatile in_divide = malloc(132);
    int r = a / zero;
    ESCAPE(in_divide);
    return r;
}

int main(void) {
    void *volatile in_main = malloc(133);
    lose();
    int r = divide(7);
    ESCAPE(in_main);
    return r;
}
