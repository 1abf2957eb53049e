// exit(3) called two frames below main: the blocks the live frames of main and of the caller hold are
// reachable (their stacks are still there); an atexit handler leaks a block (definite) and another frees
// the block of a global (gone); a block lost before the call is definite.
// memcheck: same
// expect-exit: 3
// expect-summary: definite=143/2 indirect=0/0 possible=0/0 reachable=148/2
// expect-leak: definite 71/1 c_exit_atexit.c:17
// expect-leak: definite 72/1 c_exit_atexit.c:26
// expect-leak: reachable 73/1 c_exit_atexit.c:31
// expect-leak: reachable 75/1 c_exit_atexit.c:40
#include <stdlib.h>
#define ESCAPE(p) __asm__ volatile("" : : "g"(p) : "memory")

void *volatile freed_at_exit;

static void leak_at_exit(void) {
    void *p = malloc(71);
    ESCAPE(p);
}

static void free_at_exit(void) {
    free(freed_at_exit);
}

__attribute__((noinline)) static void lose(void) {
    void *p = malloc(72);
    ESCAPE(p);
}

__attribute__((noinline)) static void leave(int code) {
    void *volatile in_leave = malloc(73);
    exit(code);
    ESCAPE(in_leave);
}

int main(void) {
    atexit(leak_at_exit);
    atexit(free_at_exit);
    freed_at_exit = malloc(74);
    void *volatile in_main = malloc(75);
    lose();
    leave(3);
    ESCAPE(in_main);
    return 0;
}
