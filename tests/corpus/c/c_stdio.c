// stdio allocations: getline and getdelim buffers (grown by libc with realloc; the site is the program's
// call), an open_memstream buffer after fclose (the caller owns it), a FILE left open (reachable from
// libc's list of streams, with its read buffer), fmemopen closed (nothing left).
// memcheck: same
// expect-exit: 0
// expect-summary: definite=307/3 indirect=0/0 possible=0/0 reachable=472/1
// expect-leak: definite 120/1 c_stdio.c:24
// expect-leak: definite 120/1 c_stdio.c:33
// expect-leak: definite 67/1 c_stdio.c:43
// expect-leak: reachable 472/1 c_stdio.c:54
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#define ESCAPE(p) __asm__ volatile("" : : "g"(p) : "memory")

static const char text[] = "a short line\nand a much longer second line, longer than the first one\nx";

__attribute__((noinline)) static char *second_line(void) {
    FILE *f = fmemopen((void *)text, sizeof text - 1, "r");
    char *line = NULL;
    size_t cap = 0;
    for (int i = 0; i < 2; i++)
        if (getline(&line, &cap, f) < 0) break;
    fclose(f);
    return line;
}

__attribute__((noinline)) static char *field(void) {
    FILE *f = fmemopen((void *)text, sizeof text - 1, "r");
    char *word = NULL;
    size_t cap = 0;
    if (getdelim(&word, &cap, ' ', f) < 0) word = NULL;
    fclose(f);
    return word;
}

__attribute__((noinline)) static char *report(void) {
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    for (int i = 0; i < 20; i++) fprintf(m, "%d,", i * i);
    fclose(m);
    return buf;
}

int main(void) {
    char *p = second_line();
    ESCAPE(p);
    p = field();
    ESCAPE(p);
    p = report();
    ESCAPE(p);
    FILE *f = fopen("/dev/zero", "r");
    char c[16];
    if (f) fread(c, 1, sizeof c, f);
    ESCAPE(c);
    p = 0;
    return 0;
}
