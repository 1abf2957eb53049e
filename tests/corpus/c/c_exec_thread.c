// execv called by a worker thread while main is blocked in pthread_join: the kernel ends every other
// thread and replaces the image; only c_exec_child's leaks and exit status (17) are reported.
// args: {dir}/c_exec_child
// needs-bin: support/c_exec_child.c
// memcheck: same
// expect-exit: 17
// expect-summary: definite=16/1 indirect=32/2 possible=0/0 reachable=171/1
// expect-leak: definite 16/1 c_exec_child.c:10
// expect-leak: indirect 32/2 c_exec_child.c:10
// expect-leak: reachable 171/1 c_exec_child.c:16
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>
#define ESCAPE(p) __asm__ volatile("" : : "g"(p) : "memory")

static char **child_argv;

static void *worker(void *arg) {
    void *p = malloc(201);
    ESCAPE(p);
    execv(child_argv[0], child_argv);
    return arg;
}

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    child_argv = argv + 1;
    void *volatile in_main = malloc(202);
    pthread_t t;
    pthread_create(&t, NULL, worker, NULL);
    pthread_join(t, NULL);
    ESCAPE(in_main);
    return 1;
}
