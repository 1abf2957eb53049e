// The parent forks a child that leaks its own block and exits; the parent waits, leaks, and exits.
// memcheck: same
// expect-exit: 0
// expect-summary: definite=30/2 indirect=0/0 possible=0/0 reachable=0/0
// expect-leak: definite 30/2 m_fork.c:14
// expect-child-summary: definite=1010/2 indirect=0/0 possible=0/0 reachable=0/0
// expect-child-leak: definite 1010/2 m_fork.c:14
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
#define ESCAPE(p) __asm__ volatile("" : : "g"(p) : "memory")

__attribute__((noinline)) static void lose(size_t n) {
    void *p = malloc(n);
    ESCAPE(p);
}

int main(void) {
    lose(10);
    pid_t pid = fork();
    if (pid == 0) {
        lose(1000);
        exit(0);
    }
    int st;
    waitpid(pid, &st, 0);
    lose(20);
    return 0;
}
