// Everything freed: every allocation function, libc allocations (stdio, strdup, asprintf, getline,
// scandir-free patterns), joined threads, a lost-and-found list, qsort on a large array; all counts zero.
// memcheck: same
// expect-exit: 0
// expect-summary: definite=0/0 indirect=0/0 possible=0/0 reachable=0/0
#define _GNU_SOURCE
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#define ESCAPE(p) __asm__ volatile("" : : "g"(p) : "memory")

struct node { struct node *next; int v; };

static int cmp(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

static void *worker(void *arg) {
    long n = (long)arg;
    struct node *head = NULL;
    for (long i = 0; i < n; i++) {
        struct node *e = malloc(sizeof *e);
        e->next = head;
        head = e;
    }
    while (head) {
        struct node *next = head->next;
        free(head);
        head = next;
    }
    char *s = strdup("thread");
    free(s);
    return NULL;
}

int main(void) {
    void *p;
    p = malloc(10); free(p);
    p = calloc(3, 30); free(p);
    p = realloc(NULL, 40); p = realloc(p, 4000); p = realloc(p, 4); free(p);
    if (posix_memalign(&p, 64, 100) == 0) free(p);
    p = aligned_alloc(128, 256); free(p);
    p = memalign(32, 50); free(p);
    p = valloc(60); free(p);
    char *s;
    if (asprintf(&s, "%d %s", 1, "two") > 0) free(s);
    s = strndup("abcdef", 3); free(s);
    FILE *f = fopen("/dev/null", "w");
    if (f) {
        fprintf(f, "%s\n", "to nowhere");
        fclose(f);
    }
    f = fmemopen("one\ntwo\n", 8, "r");
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) > 0) {}
    free(line);
    fclose(f);
    int n = 50000;
    int *a = malloc(n * sizeof *a);
    for (int i = 0; i < n; i++) a[i] = (i * 7919) % n;
    qsort(a, n, sizeof *a, cmp);
    free(a);
    pthread_t t[3];
    for (long i = 0; i < 3; i++) pthread_create(&t[i], NULL, worker, (void *)(100 * (i + 1)));
    for (int i = 0; i < 3; i++) pthread_join(t[i], NULL);
    ESCAPE(p);
    return 0;
}
