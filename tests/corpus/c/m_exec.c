// Leaks, then replaces itself with exec_target: the blocks of the replaced image are gone, the new image's
// leak and exit status are reported.
// args: {dir}/exec_target
// needs-bin: support/exec_target.c
// memcheck: same
// expect-exit: 7
// expect-summary: definite=33/1 indirect=0/0 possible=0/0 reachable=0/0
// expect-leak: definite 33/1 exec_target.c:5
#include <stdlib.h>
#include <unistd.h>
#define ESCAPE(p) __asm__ volatile("" : : "g"(p) : "memory")

int main(int argc, char **argv) {
    void *p = malloc(500);
    ESCAPE(p);
    if (argc > 1) execv(argv[1], argv + 1);
    return 1;
}
