// libc's search trees and tables: a tsearch tree whose root is lost (the node holding the root pointer is
// definite, the other nodes indirect; the keys are the program's own blocks, held by the nodes), and a
// tdelete'd key freed; realpath(p, NULL) leaks the resolved name.
// memcheck: same
// expect-exit: 0
// expect-summary: definite=26/2 indirect=159/11 possible=0/0 reachable=0/0
// expect-leak: definite 24/1 c_libc_search.c:25
// expect-leak: definite 2/1 c_libc_search.c:36
// expect-leak: indirect 39/6 c_libc_search.c:24
// expect-leak: indirect 120/5 c_libc_search.c:25
#define _GNU_SOURCE
#include <limits.h>
#include <search.h>
#include <stdlib.h>
#include <string.h>
#define ESCAPE(p) __asm__ volatile("" : : "g"(p) : "memory")

static int cmp(const void *a, const void *b) { return strcmp(a, b); }

__attribute__((noinline)) static void lose_tree(void) {
    void *root = NULL;
    static const char *words[] = {"delta", "alpha", "echo", "bravo", "charlie", "foxtrot", "golf"};
    for (int i = 0; i < 7; i++) {
        char *k = strdup(words[i]);
        tsearch(k, &root, cmp);
    }
    char **found = tfind("echo", &root, cmp);
    char *key = found ? *found : NULL;
    tdelete("echo", &root, cmp);
    free(key);
    ESCAPE(root);
}

int main(void) {
    lose_tree();
    char *r = realpath("/", NULL);
    ESCAPE(r);
    r = 0;
    return 0;
}
