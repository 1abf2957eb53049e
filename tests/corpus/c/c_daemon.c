// daemon(): the original process leaves through glibc's internal _exit; it is reported, and so is the
// daemon (a forked child that goes on, then returns from main).
// memcheck: skip: the daemon outlives the process Valgrind started, and the cross-check reads the logs when that one ends (checked by hand: Memcheck reports the same for both processes)
// expect-exit: 0
// expect-summary: definite=200/1 indirect=0/0 possible=0/0 reachable=100/1
// expect-leak: reachable 100/1 c_daemon.c:15
// expect-leak: definite 200/1 c_daemon.c:16
// expect-child-summary: definite=200/1 indirect=0/0 possible=0/0 reachable=100/1
// expect-child-leak: reachable 100/1 c_daemon.c:15
// expect-child-leak: definite 200/1 c_daemon.c:16
#include <stdlib.h>
#include <unistd.h>
char *kept;
int main(void) {
    kept = malloc(100);
    char *volatile lost = malloc(200);
    lost = NULL;
    if (daemon(1, 1) != 0) return 1;
    return 0;
}
