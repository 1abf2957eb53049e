// fork + execv: the child replaces its image with c_exec_child (whose own leaks are its report: the
// forked copy of the parent's heap is gone); the parent waits and leaks its own.
// args: {dir}/c_exec_child
// needs-bin: support/c_exec_child.c
// memcheck: same
// expect-exit: 0
// expect-summary: definite=383/2 indirect=0/0 possible=0/0 reachable=0/0
// expect-leak: definite 191/1 c_fork_exec.c:21
// expect-leak: definite 192/1 c_fork_exec.c:31
// expect-child-summary: definite=16/1 indirect=32/2 possible=0/0 reachable=171/1
// expect-child-leak: definite 16/1 c_exec_child.c:10
// expect-child-leak: indirect 32/2 c_exec_child.c:10
// expect-child-leak: reachable 171/1 c_exec_child.c:16
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
#define ESCAPE(p) __asm__ volatile("" : : "g"(p) : "memory")

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    void *before = malloc(191);
    ESCAPE(before);
    before = NULL;
    pid_t pid = fork();
    if (pid == 0) {
        execv(argv[1], argv + 1);
        _exit(127);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    void *after = malloc(192);
    ESCAPE(after);
    after = NULL;
    return WEXITSTATUS(st) == 17 ? 0 : 1;
}
