// Loaded by c_dlopen and kept open: a constructor and plugin_init park blocks in the library's globals
// (reachable), plugin_init leaks one (definite) and hands one to the program, and sets a __thread
// variable of the library (dynamic TLS: __tls_get_addr allocates the library's TLS block on first use).
#include <stdlib.h>
#define ESCAPE(p) __asm__ volatile("" : : "g"(p) : "memory")
void *keep_state;
void *keep_ctor_state;
__thread void *keep_tls;

__attribute__((constructor)) static void keep_ctor(void) {
    keep_ctor_state = malloc(210);
}

void *plugin_init(void) {
    keep_state = malloc(220);
    void *lost = malloc(230);
    ESCAPE(lost);
    keep_tls = malloc(240);
    void *handed = malloc(250);
    ESCAPE(handed);
    return handed;
}
