// _exit(4) from a nested frame: atexit handlers do not run (their block is never allocated, the global one
// they would free stays reachable); the blocks held by live frames are reachable; a lost block definite.
// memcheck: same
// expect-exit: 4
// expect-summary: definite=82/1 indirect=0/0 possible=0/0 reachable=252/3
// expect-leak: definite 82/1 c_exit_underscore.c:26
// expect-leak: reachable 83/1 c_exit_underscore.c:31
// expect-leak: reachable 84/1 c_exit_underscore.c:39
// expect-leak: reachable 85/1 c_exit_underscore.c:40
#include <stdlib.h>
#include <unistd.h>
#define ESCAPE(p) __asm__ volatile("" : : "g"(p) : "memory")

void *volatile freed_at_exit;

static void leak_at_exit(void) {
    void *p = malloc(81);
    ESCAPE(p);
}

static void free_at_exit(void) {
    free(freed_at_exit);
}

__attribute__((noinline)) static void lose(void) {
    void *p = malloc(82);
    ESCAPE(p);
}

__attribute__((noinline)) static void leave(int code) {
    void *volatile in_leave = malloc(83);
    _exit(code);
    ESCAPE(in_leave);
}

int main(void) {
    atexit(leak_at_exit);
    atexit(free_at_exit);
    freed_at_exit = malloc(84);
    void *volatile in_main = malloc(85);
    lose();
    leave(4);
    ESCAPE(in_main);
    return 0;
}
