// dlopen'ed libraries as roots. libc_plugin_keep.so stays loaded: blocks in its globals are reachable
// (sites in its source), its leak definite, the block it returns kept by a global of the program
// (reachable), a block set into its __thread variable reachable; dlopen's own records for it are
// reachable (site: the dlopen line). libc_plugin_drop.so is closed again: the block its global held is
// definite, dlopen's records for it are freed by dlclose (frames in a closed library have no source
// line, so their site is the program's call into the library).
// args: ./libc_plugin_keep.so ./libc_plugin_drop.so
// needs-lib: support/c_plugin_keep.c
// needs-lib: support/c_plugin_drop.c
// memcheck: same
// expect-exit: 0
// expect-summary: definite=540/2 indirect=0/0 possible=0/0 reachable=2762/10
// expect-leak: definite 310/1 c_dlopen.c:38
// expect-leak: definite 230/1 c_plugin_keep.c:16
// expect-leak: reachable 1514/4 c_dlopen.c:31
// expect-leak: reachable 320/1 c_dlopen.c:38
// expect-leak: reachable 210/1 c_plugin_keep.c:11
// expect-leak: reachable 220/1 c_plugin_keep.c:15
// expect-leak: reachable 248/2 c_plugin_keep.c:18
// expect-leak: reachable 250/1 c_plugin_keep.c:19
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

void *volatile from_keep;
void *volatile from_drop;

#define ESCAPE(p) __asm__ volatile("" : : "g"(p) : "memory")

__attribute__((noinline)) static void *load(const char *path, void **handle) {
    void *h = dlopen(path, RTLD_NOW);
    if (!h) {
        fprintf(stderr, "%s\n", dlerror());
        exit(1);
    }
    void *(*init)(void) = (void *(*)(void))dlsym(h, "plugin_init");
    *handle = h;
    void *r = init();
    ESCAPE(r);
    return r;
}

int main(int argc, char **argv) {
    if (argc < 3) return 2;
    void *h1, *h2;
    from_keep = load(argv[1], &h1);
    from_drop = load(argv[2], &h2);
    dlclose(h2);
    return 0;
}
