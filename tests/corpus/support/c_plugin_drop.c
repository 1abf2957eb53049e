// Loaded by c_dlopen and closed again: the block its global held is lost with the library's data
// (definite), the one handed to the program stays the program's.
#include <stdlib.h>
#define ESCAPE(p) __asm__ volatile("" : : "g"(p) : "memory")
void *drop_state;

void *plugin_init(void) {
    drop_state = malloc(310);
    void *handed = malloc(320);
    ESCAPE(handed);
    return handed;
}
