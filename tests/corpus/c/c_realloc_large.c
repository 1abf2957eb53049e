// Large blocks grown by realloc in small steps, as a program appends to a buffer: blocks larger than the
// quarantine holds grow in place through glibc (mremap for mmapped ones) instead of moving at every
// step. A 2 MiB buffer grown 4 KiB at a time is leaked from a lost holder (indirect), a 1 MiB one stays
// reachable from a global, and one grown past 256 KiB and shrunk back is lost on its own.
// memcheck: same
// expect-exit: 0
// expect-summary: definite=1016/2 indirect=2097152/1 possible=0/0 reachable=1048576/1
// expect-leak: definite 16/1 c_realloc_large.c:29
// expect-leak: indirect 2097152/1 c_realloc_large.c:19
// expect-leak: definite 1000/1 c_realloc_large.c:36
// expect-leak: reachable 1048576/1 c_realloc_large.c:19
#include <stdlib.h>
#include <string.h>
#define ESCAPE(p) __asm__ volatile("" : : "g"(p) : "memory")

__attribute__((noinline)) static char *grow(char *buf, size_t from, size_t to) {
    for (size_t n = from; n < to;) {
        n += 4096;
        buf = realloc(buf, n);
        memset(buf + n - 4096, 'x', 4096);
    }
    return buf;
}

struct holder { char *buf; size_t len; };
char *kept;

int main(void) {
    struct holder *h = malloc(sizeof *h);
    h->buf = grow(NULL, 0, 2 << 20);
    h->len = 2 << 20;
    ESCAPE(h);
    h = NULL;
    kept = grow(NULL, 0, 1 << 20);
    char *p = grow(NULL, 0, 256 << 10);
    p = realloc(p, 1000);
    ESCAPE(p);
    p = NULL;
    return kept[100] == 'x' ? 0 : 1;
}
