// exit() called while the only pointer to a block is in a callee-saved register: glibc's exit path saves
// it on the stack below the caller's frame, where Memcheck finds it (still reachable). The agent scans the
// callee-saved registers of exit()'s caller. A second block held in a register that is overwritten
// before exit() is lost.
// memcheck: same
// expect-exit: 0
// expect-summary: definite=32/1 indirect=0/0 possible=0/0 reachable=64/1
// expect-leak: reachable 64/1 c_exit_registers.c:13
// expect-leak: definite 32/1 c_exit_registers.c:15
#include <stdlib.h>

__attribute__((noinline)) static void finish(void) {
    register void *p asm("r12") = malloc(64);
    asm volatile("" : "+r"(p));
    register void *q asm("r13") = malloc(32);
    asm volatile("" : "+r"(q));
    q = 0;
    asm volatile("" : "+r"(q));
    exit(0);
}

int main(void) { finish(); }
