// raise(SIGTERM) with a handler that leaks a block and calls exit(9): the status is the handler's; the
// handler's and main's frames are live at exit (reachable); the handler's lost block is definite.
// memcheck: same
// expect-exit: 9
// expect-summary: definite=326/2 indirect=0/0 possible=0/0 reachable=324/2
// expect-leak: definite 326/2 c_sigterm_handler.c:15
// expect-leak: reachable 161/1 c_sigterm_handler.c:20
// expect-leak: reachable 163/1 c_sigterm_handler.c:31
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#define ESCAPE(p) __asm__ volatile("" : : "g"(p) : "memory")

__attribute__((noinline)) static void lose(size_t n) {
    void *p = malloc(n);
    ESCAPE(p);
}

static void on_term(int sig) {
    void *volatile in_handler = malloc(161);
    lose(162);
    exit(sig == SIGTERM ? 9 : 1);
    ESCAPE(in_handler);
}

int main(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_term;
    sigaction(SIGTERM, &sa, NULL);
    void *volatile in_main = malloc(163);
    lose(164);
    raise(SIGTERM);
    ESCAPE(in_main);
    return 0;
}
