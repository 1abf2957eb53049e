// Leaves through the path named by argv[1]; the block held by a local of main is reachable only while
// main's frame is live (exit, _exit, signals), not after main returned.
// args: exit
// memcheck: same
// expect-exit: 3
// expect-summary: definite=40/1 indirect=0/0 possible=0/0 reachable=24/1
// expect-leak: reachable 24/1 m_exit_exit.c:23
// expect-leak: definite 40/1 m_exit_exit.c:18
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#define ESCAPE(p) __asm__ volatile("" : : "g"(p) : "memory")

void *volatile global_keep;

__attribute__((noinline)) static void lose(void) {
    void *p = malloc(40);
    ESCAPE(p);
}

int main(int argc, char **argv) {
    global_keep = malloc(24);
    lose();
    const char *how = argc > 1 ? argv[1] : "return";
    if (!strcmp(how, "exit")) exit(3);
    if (!strcmp(how, "_exit")) _exit(4);
    if (!strcmp(how, "_Exit")) _Exit(5);
    if (!strcmp(how, "abort")) abort();
    if (!strcmp(how, "segv")) raise(SIGSEGV);
    if (!strcmp(how, "term")) kill(getpid(), SIGTERM);
    return 0;
}
