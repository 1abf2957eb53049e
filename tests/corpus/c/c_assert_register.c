// A failed assert() while the only pointer to a block is in a callee-saved register: the thread signals
// itself (abort), so its registers are not roots (Memcheck's rule for a thread killed by a signal), and
// the stale words libc's raise leaves in the red zone below its stack pointer are not either.
// memcheck: same
// light: differs: the lost block's address stays in a register light mode does not scrub
// expect-exit: 134
// expect-summary: definite=24/1 indirect=0/0 possible=0/0 reachable=0/0
// expect-leak: definite 24/1 c_assert_register.c:13
#include <assert.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    register void *p asm("r15") = malloc(24);
    asm volatile("" : "+r"(p));
    assert(argc > 5);
    asm volatile("" : : "r"(p));
    return 0;
}
