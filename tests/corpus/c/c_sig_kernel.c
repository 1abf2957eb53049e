// Signals the kernel sends that kill by default and are not faults: SIGALRM from alarm() (si_code
// SI_KERNEL: the handler must send it again, returning would let the program run on) and SIGVTALRM from
// a CPU-time timer. Both kill (142, 154) with the heap reported as at the moment of death.
// args: alarm
// memcheck: same
// expect-exit: 142
// expect-summary: definite=200/1 indirect=0/0 possible=0/0 reachable=100/1
// expect-leak: definite 200/1 c_sig_kernel.c:21
// expect-leak: reachable 100/1 c_sig_kernel.c:20
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#define ESCAPE(p) __asm__ volatile("" : : "g"(p) : "memory")
#include <sys/time.h>
#include <unistd.h>

char *keep;

int main(int argc, char **argv) {
    keep = malloc(100);
    char *lost = malloc(200);
    ESCAPE(lost);
    lost = NULL;
    ESCAPE(lost);
    if (argc > 1 && strcmp(argv[1], "alarm") == 0) {
        alarm(1);
        pause();
    } else {
        struct itimerval it = {{0, 0}, {0, 100000}};
        setitimer(ITIMER_VIRTUAL, &it, NULL);
        for (volatile unsigned long i = 0;; i++) {
        }
    }
    puts("still running after the signal");
    return 0;
}
