// Allocates and frees everything, with stdio in use: nothing is reported.
// memcheck: same
// expect-exit: 0
// expect-summary: definite=0/0 indirect=0/0 possible=0/0 reachable=0/0
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
int main(void) {
    char *s = strdup("clean");
    printf("%s\n", s);
    free(s);
    void *p = malloc(100);
    p = realloc(p, 1000);
    free(p);
    return 0;
}
