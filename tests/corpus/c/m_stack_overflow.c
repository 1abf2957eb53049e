// Death by stack overflow (SIGSEGV on a full stack): the agent's handler runs on an alternate stack and
// still reports; the lost block stays lost although deep frames now cover where malloc ran (the agent
// scrubs the stack its bookkeeping used). A copy the *program* left in a dead frame would be another
// matter: Memcheck ignores undefined stack words, leakscope cannot tell them apart (see README, Limits).
// memcheck: same
// light: differs: stale copies of a lost block's address in the stack light mode does not scrub
// expect-exit: 139
// expect-summary: definite=20/1 indirect=0/0 possible=0/0 reachable=10/1
// expect-leak: reachable 10/1 m_stack_overflow.c:24
// expect-leak: definite 20/1 m_stack_overflow.c:25
#include <stdio.h>
#include <stdlib.h>
#define ESCAPE(p) __asm__ volatile("" : : "g"(p) : "memory")

void *volatile kept;

__attribute__((noinline)) static int recurse(int n) {
    volatile char buf[256];
    buf[0] = (char)n;
    return recurse(n + 1) + buf[0];
}

int main(void) {
    kept = malloc(10);
    void *p = malloc(20);
    ESCAPE(p);
    p = NULL;
    ESCAPE(p);
    printf("%d\n", recurse(0));
    return 0;
}
