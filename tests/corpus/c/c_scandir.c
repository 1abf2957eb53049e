// scandir on a directory of three files made for the test: entries freed but not the array (the array
// leaks; its slots are cleared first, so that it holds no stale pointers to the freed entries, whose
// memory the next scandir reuses natively), the array freed but not the entries (three definite entries), nothing freed (array definite,
// entries indirect). The sizes come from the kernel's dirent record lengths, the same on every filesystem.
// memcheck: same
// expect-exit: 0
// expect-summary: definite=256/5 indirect=96/3 possible=0/0 reachable=0/0
// expect-leak: definite 80/1 c_scandir.c:24
// expect-leak: definite 96/3 c_scandir.c:45
// expect-leak: definite 80/1 c_scandir.c:47
// expect-leak: indirect 96/3 c_scandir.c:47
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#define ESCAPE(p) __asm__ volatile("" : : "g"(p) : "memory")

static int not_dots(const struct dirent *d) { return d->d_name[0] != '.'; }

__attribute__((noinline)) static int scan(const char *dir, struct dirent ***list) {
    int n = scandir(dir, list, not_dots, alphasort);
    ESCAPE(list);
    return n;
}

int main(void) {
    char dir[] = "/tmp/c_scandir.XXXXXX";
    if (!mkdtemp(dir)) return 1;
    const char *names[] = {"alpha", "bravo_longer_name", "c"};
    char path[128];
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        close(open(path, O_CREAT | O_WRONLY, 0600));
    }
    struct dirent **list;
    int n = scan(dir, &list);
    for (int i = 0; i < n; i++) {
        free(list[i]);
        list[i] = NULL;
    }
    ESCAPE(list);
    n = scandir(dir, &list, not_dots, alphasort);
    free(list);
    n = scandir(dir, &list, not_dots, NULL);
    ESCAPE(list);
    list = 0;
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        unlink(path);
    }
    rmdir(dir);
    return 0;
}
