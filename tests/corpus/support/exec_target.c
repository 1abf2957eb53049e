// Run by m_exec through execv: leaks its own 33 bytes.
#include <stdlib.h>
#define ESCAPE(p) __asm__ volatile("" : : "g"(p) : "memory")
int main(void) {
    void *p = malloc(33);
    ESCAPE(p);
    return 7;
}
