/* leaky.c - the demo program of leakscope's README: a small "server" that leaks in four different ways. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct session { struct session *next; char *user; char token[32]; };

static struct session *history;            /* grows forever: still reachable, but a leak in spirit */

__attribute__((noinline)) static char *make_token(int i) {
    char *t = malloc(40);
    snprintf(t, 40, "token-%08d", i);
    return t;
}

__attribute__((noinline)) static void handle(int i) {
    char *scratch = make_token(i);
    if (i % 10 == 0)
        return;                              /* error path forgets to free: definitely lost */
    free(scratch);
}

__attribute__((noinline)) static void remember(int i) {
    struct session *s = calloc(1, sizeof *s);
    s->user = strdup(i % 2 ? "alice" : "bob");
    s->next = history;
    history = s;
}

__attribute__((noinline)) static void drop_list(void) {
    struct session *lost = NULL;             /* a list whose head is lost: 1 definite + indirect rest */
    for (int i = 0; i < 3; i++) {
        struct session *s = malloc(sizeof *s);
        s->user = NULL;
        s->next = lost;
        lost = s;
    }
    asm volatile("" ::: "memory");
}

int main(void) {
    for (int i = 0; i < 50; i++) {
        handle(i);
        if (i % 5 == 0)
            remember(i);
    }
    drop_list();
    printf("served 50 requests\n");
    return 0;
}
