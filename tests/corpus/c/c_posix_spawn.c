// posix_spawn of c_exec_child: the spawned process is a child of its own (its report is the child's); the
// parent waits, leaks a block, and keeps one in a global.
// args: {dir}/c_exec_child
// needs-bin: support/c_exec_child.c
// memcheck: same
// expect-exit: 0
// expect-summary: definite=211/1 indirect=0/0 possible=0/0 reachable=212/1
// expect-leak: definite 211/1 c_posix_spawn.c:28
// expect-leak: reachable 212/1 c_posix_spawn.c:31
// expect-child-summary: definite=16/1 indirect=32/2 possible=0/0 reachable=171/1
// expect-child-leak: definite 16/1 c_exec_child.c:10
// expect-child-leak: indirect 32/2 c_exec_child.c:10
// expect-child-leak: reachable 171/1 c_exec_child.c:16
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#define ESCAPE(p) __asm__ volatile("" : : "g"(p) : "memory")

extern char **environ;
void *volatile kept;

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    pid_t pid;
    if (posix_spawn(&pid, argv[1], NULL, NULL, argv + 1, environ) != 0) return 3;
    int st = 0;
    waitpid(pid, &st, 0);
    void *p = malloc(211);
    ESCAPE(p);
    p = NULL;
    kept = malloc(212);
    return WEXITSTATUS(st) == 17 ? 0 : 1;
}
