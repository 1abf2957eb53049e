// Blocks allocated inside libc for the program: getline, open_memstream, scandir; the site is the
// program's line that called them.
// memcheck: same
// expect-exit: 0
// expect-summary: definite=221/2 indirect=0/0 possible=0/0 reachable=0/0
// expect-leak: definite 101/1 m_stdlib.c:27
// expect-leak: definite 120/1 m_stdlib.c:19
#define _GNU_SOURCE
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#define ESCAPE(p) __asm__ volatile("" : : "g"(p) : "memory")

int main(void) {
    FILE *f = fmemopen("line one\nline two\n", 18, "r");
    char *line = NULL;
    size_t cap = 0;
    getline(&line, &cap, f);
    fclose(f);
    ESCAPE(line);
    line = NULL;
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    fprintf(m, "%0100d", 7);
    fclose(m);
    ESCAPE(buf);
    buf = NULL;
    return 0;
}
