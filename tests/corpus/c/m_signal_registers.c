// Killed by SIGILL with the only pointer to a block in a register: Memcheck does not scan the registers
// of a thread killed by a signal (definitely lost), but does scan its stack (the volatile local: reachable).
// args: rbx
// memcheck: same
// expect-exit: 132
// expect-summary: definite=0/0 indirect=0/0 possible=0/0 reachable=36/2
// expect-leak: reachable 16/1 m_signal_registers.c:17
// expect-leak: reachable 20/1 m_signal_registers.c:18
// expect-exit[O2]: 132
// expect-summary[O2]: definite=20/1 indirect=0/0 possible=0/0 reachable=16/1
// expect-leak[O2]: reachable 16/1 m_signal_registers.c:17
// expect-leak[O2]: definite 20/1 m_signal_registers.c:18
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
    void *volatile on_stack = malloc(16);
    void *p = malloc(20);
    if (argc > 1 && !strcmp(argv[1], "rbx")) __asm__ volatile("mov %0, %%rbx\n\tud2" : : "r"(p) : "rbx");
    return on_stack != 0;
}
