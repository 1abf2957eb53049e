// A real null-pointer store (SIGSEGV, 139) two frames below main: the live frames' blocks are reachable,
// the lost one definite, a block held by a global reachable.
// memcheck: same
// expect-exit: 139
// expect-summary: definite=121/1 indirect=0/0 possible=0/0 reachable=369/3
// expect-leak: definite 121/1 c_segv_null.c:17
// expect-leak: reachable 122/1 c_segv_null.c:22
// expect-leak: reachable 123/1 c_segv_null.c:28
// expect-leak: reachable 124/1 c_segv_null.c:29
#include <stdlib.h>
#define ESCAPE(p) __asm__ volatile("" : : "g"(p) : "memory")

int *volatile null_ptr;
void *volatile global;

__attribute__((noinline)) static void lose(void) {
    void *p = malloc(121);
    ESCAPE(p);
}

__attribute__((noinline)) static void crash(void) {
    void *volatile in_crash = malloc(122);
    *null_ptr = 1;
    ESCAPE(in_crash);
}

int main(void) {
    global = malloc(123);
    void *volatile in_main = malloc(124);
    lose();
    crash();
    ESCAPE(in_main);
    return 0;
}
