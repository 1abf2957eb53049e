// Loaded by m_dlopen: a global of the library holds one block, another is dropped.
#include <stdlib.h>
#define ESCAPE(p) __asm__ volatile("" : : "g"(p) : "memory")
void *plugin_state;
void plugin_init(void) {
    plugin_state = malloc(64);
    void *p = malloc(48);
    ESCAPE(p);
}
