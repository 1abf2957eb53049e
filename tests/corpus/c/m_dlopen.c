// A dlopen'ed library keeps a block in its own global (reachable) and leaks another (definite).
// args: ./libplugin.so
// needs-lib: support/plugin.c
// memcheck: same
// expect-exit: 0
// expect-summary: definite=48/1 indirect=0/0 possible=0/0 reachable=1533/5
// expect-leak: reachable 1469/4 m_dlopen.c:14
// expect-leak: definite 48/1 plugin.c:7
// expect-leak: reachable 64/1 plugin.c:6
#include <dlfcn.h>
#include <stdio.h>

int main(int argc, char **argv) {
    void *h = dlopen(argv[1], RTLD_NOW);
    if (!h) { fprintf(stderr, "%s\n", dlerror()); return 1; }
    void (*init)(void) = (void (*)(void))dlsym(h, "plugin_init");
    init();
    return 0;
}
