// An allocation at every level of a 200-deep recursion (deeper than the stacks the agent keeps, 128
// frames, and its walk cache, 160 steps): every block is still attributed to the allocating line, never to
// the recursive call.
// memcheck: same
// expect-exit: 0
// expect-summary: definite=0/0 indirect=0/0 possible=0/0 reachable=3200/200
// expect-leak: reachable 3200/200 c_deep_recursion.c:13
#include <stdlib.h>

void *keep[200];

__attribute__((noinline)) void descend(int depth) {
    keep[depth] = malloc(16);
    if (depth < 199) descend(depth + 1);
    __asm__ volatile("" ::: "memory");
}

int main(void) {
    descend(0);
    return 0;
}
