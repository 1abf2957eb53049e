// vfork: the child _exits without exec; it gets a report of its own (as under Valgrind, which runs
// vfork as a fork), and the parent goes on and loses two blocks after it.
// memcheck: same
// expect-exit: 0
// expect-summary: definite=150/2 indirect=0/0 possible=0/0 reachable=0/0
// expect-leak: definite 100/1 c_vfork_exit.c:16
// expect-leak: definite 50/1 c_vfork_exit.c:20
// expect-child-summary: definite=0/0 indirect=0/0 possible=0/0 reachable=100/1
// expect-child-leak: reachable 100/1 c_vfork_exit.c:16
// expect-child-exit: 6
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void) {
    char *volatile kept = malloc(100);
    if (vfork() == 0) _exit(6);
    wait(NULL);
    kept = NULL;
    char *volatile lost = malloc(50);
    lost = NULL;
    return 0;
}
