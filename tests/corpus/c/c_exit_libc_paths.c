// Ways out that glibc takes internally, past the interposed exit functions: quick_exit() (its
// at_quick_exit handlers, then glibc's own _exit) in the parent, and errx() (exit from inside libc) in a
// forked child: both report, with their status.
// memcheck: same
// expect-exit: 5
// expect-summary: definite=200/1 indirect=0/0 possible=0/0 reachable=100/1
// expect-leak: reachable 100/1 c_exit_libc_paths.c:21
// expect-leak: definite 200/1 c_exit_libc_paths.c:22
// expect-child-summary: definite=200/1 indirect=0/0 possible=0/0 reachable=100/1
// expect-child-leak: reachable 100/1 c_exit_libc_paths.c:21
// expect-child-leak: definite 200/1 c_exit_libc_paths.c:22
// expect-child-exit: 7
#include <err.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

char *kept;

int main(void) {
    kept = malloc(100);
    char *volatile lost = malloc(200);
    lost = NULL;
    if (fork() == 0) errx(7, "child gives up");
    wait(NULL);
    quick_exit(5);
}
