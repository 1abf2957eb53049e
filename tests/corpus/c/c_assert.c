// A failing assert() (message on stderr, then abort: 134): what live frames hold is reachable, a lost block
// definite; whatever glibc allocates for the message is counted as Memcheck counts it.
// memcheck: same
// expect-exit: 134
// expect-summary: definite=111/1 indirect=0/0 possible=0/0 reachable=225/2
// expect-leak: definite 111/1 c_assert.c:16
// expect-leak: reachable 112/1 c_assert.c:21
// expect-leak: reachable 113/1 c_assert.c:27
#include <assert.h>
#include <stdlib.h>
#define ESCAPE(p) __asm__ volatile("" : : "g"(p) : "memory")

volatile int answer = 41;

__attribute__((noinline)) static void lose(void) {
    void *p = malloc(111);
    ESCAPE(p);
}

__attribute__((noinline)) static void check(int v) {
    void *volatile in_check = malloc(112);
    assert(v == 42 && "the answer");
    ESCAPE(in_check);
}

int main(void) {
    void *volatile in_main = malloc(113);
    lose();
    check(answer);
    ESCAPE(in_main);
    return 0;
}
