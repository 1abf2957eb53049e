// Roots in the program's data: an initialised global (.data), a zero global (.bss), a static local, a
// global array of pointers, a chain of blocks hanging from a global (all reachable); a pointer stored
// unaligned in a packed global and a pointer stored XOR-masked are not pointers to a scanner (definite).
// memcheck: same
// expect-exit: 0
// expect-summary: definite=99/2 indirect=0/0 possible=0/0 reachable=188/10
// expect-leak: definite 44/1 c_globals.c:46
// expect-leak: definite 55/1 c_globals.c:47
// expect-leak: reachable 33/1 c_globals.c:30
// expect-leak: reachable 11/1 c_globals.c:36
// expect-leak: reachable 22/1 c_globals.c:37
// expect-leak: reachable 26/4 c_globals.c:38
// expect-leak: reachable 96/3 c_globals.c:42
#include <stdint.h>
#include <stdlib.h>
#define ESCAPE(p) __asm__ volatile("" : : "g"(p) : "memory")

struct __attribute__((packed)) packed { char tag; void *p; };
struct chain { struct chain *next; char pad[24]; };

void *in_data = (void *)1;
void *in_bss;
void *array[4];
struct chain *chain_head;
volatile struct packed unaligned;
volatile uintptr_t masked;

__attribute__((noinline)) static void *remember(size_t n) {
    static void *volatile last;
    void *p = malloc(n);
    last = p;
    return last;
}

int main(void) {
    in_data = malloc(11);
    in_bss = malloc(22);
    for (int i = 0; i < 4; i++) array[i] = malloc(5 + i);
    void *p = remember(33);
    ESCAPE(p);
    for (int i = 0; i < 3; i++) {
        struct chain *c = malloc(sizeof *c);
        c->next = chain_head;
        chain_head = c;
    }
    unaligned.p = malloc(44);
    masked = (uintptr_t)malloc(55) ^ 0x5a5a5a5a5a5a5a5aULL;
    p = 0;
    return 0;
}
