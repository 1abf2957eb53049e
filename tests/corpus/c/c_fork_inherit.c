// fork: the child starts with the parent's heap. A block lost before the fork is definite in both; a
// global's block reachable in both, but freed by the child; the child leaks its own block and exits 0;
// the parent waits, leaks another, and exits with 10 + the child's status.
// memcheck: same
// expect-exit: 10
// expect-summary: definite=365/2 indirect=0/0 possible=0/0 reachable=182/1
// expect-leak: definite 365/2 c_fork_inherit.c:20
// expect-leak: reachable 182/1 c_fork_inherit.c:26
// expect-child-summary: definite=364/2 indirect=0/0 possible=0/0 reachable=0/0
// expect-child-leak: definite 181/1 c_fork_inherit.c:20
// expect-child-leak: definite 183/1 c_fork_inherit.c:31
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
#define ESCAPE(p) __asm__ volatile("" : : "g"(p) : "memory")

void *volatile shared_global;

__attribute__((noinline)) static void lose(size_t n) {
    void *p = malloc(n);
    ESCAPE(p);
}

int main(void) {
    lose(181);
    shared_global = malloc(182);
    pid_t pid = fork();
    if (pid == 0) {
        free(shared_global);
        shared_global = NULL;
        void *mine = malloc(183);
        ESCAPE(mine);
        mine = NULL;
        exit(0);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    lose(184);
    return 10 + WEXITSTATUS(st);
}
