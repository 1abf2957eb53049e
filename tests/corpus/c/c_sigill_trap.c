// __builtin_trap (ud2: SIGILL, 132): live frames' blocks reachable, the lost one definite.
// memcheck: same
// expect-exit: 132
// expect-summary: definite=141/1 indirect=0/0 possible=0/0 reachable=285/2
// expect-leak: definite 141/1 c_sigill_trap.c:14
// expect-leak: reachable 142/1 c_sigill_trap.c:19
// expect-leak: reachable 143/1 c_sigill_trap.c:25
#include <stdlib.h>
#define ESCAPE(p) __asm__ volatile("" : : "g"(p) : "memory")

volatile int go = 1;

__attribute__((noinline)) static void lose(void) {
    void *p = malloc(141);
    ESCAPE(p);
}

__attribute__((noinline)) static void trap(void) {
    void *volatile in_trap = malloc(142);
    if (go) __builtin_trap();
    ESCAPE(in_trap);
}

int main(void) {
    void *volatile in_main = malloc(143);
    lose();
    trap();
    ESCAPE(in_main);
    return 0;
}
