// Signals without a hook of their own in older agents: SIGPROF and a real-time signal (SIGRTMIN+1, 35
// with glibc) raised with no handler kill the process (155, 163) and the live heap is reported.
// args: rt
// memcheck: same
// expect-exit: 163
// expect-summary: definite=200/1 indirect=0/0 possible=0/0 reachable=100/1
// expect-leak: definite 200/1 c_sig_realtime.c:18
// expect-leak: reachable 100/1 c_sig_realtime.c:17
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#define ESCAPE(p) __asm__ volatile("" : : "g"(p) : "memory")

char *keep;

int main(int argc, char **argv) {
    keep = malloc(100);
    char *lost = malloc(200);
    ESCAPE(lost);
    lost = NULL;
    ESCAPE(lost);
    raise(argc > 1 && strcmp(argv[1], "rt") == 0 ? SIGRTMIN + 1 : SIGPROF);
    return 0;
}
