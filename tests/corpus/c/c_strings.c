// String allocations inside libc, the site being the program's line that called them: strdup, strndup
// (shorter and longer than the string), asprintf, vasprintf through a helper, wcsdup; some freed.
// memcheck: same
// expect-exit: 0
// expect-summary: definite=69/6 indirect=0/0 possible=0/0 reachable=0/0
// expect-leak: definite 14/1 c_strings.c:24
// expect-leak: definite 13/1 c_strings.c:31
// expect-leak: definite 5/1 c_strings.c:35
// expect-leak: definite 4/1 c_strings.c:37
// expect-leak: definite 13/1 c_strings.c:39
// expect-leak: definite 20/1 c_strings.c:45
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>
#define ESCAPE(p) __asm__ volatile("" : : "g"(p) : "memory")

__attribute__((noinline)) static char *format(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0) s = NULL;
    va_end(ap);
    return s;
}

int main(void) {
    char *s;
    s = strdup("twelve chars");
    ESCAPE(s);
    s = strdup("freed");
    free(s);
    s = strndup("abcdefghijklmnop", 4);
    ESCAPE(s);
    s = strndup("abc", 100);
    ESCAPE(s);
    if (asprintf(&s, "%05d:%s", 42, "answer") < 0) s = 0;
    ESCAPE(s);
    s = format("%s-%s-%s", "one", "two", "three");
    ESCAPE(s);
    s = format("%d", 7);
    free(s);
    wchar_t *w = wcsdup(L"wide");
    ESCAPE(w);
    w = 0;
    s = 0;
    return 0;
}
