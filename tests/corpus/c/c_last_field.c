// The only pointer to a record points at its last field, 8 bytes before the block's end: an interior
// pointer (possibly lost), not mistaken for one of glibc's pointers to the next chunk's header.
// memcheck: same
// light: differs: a pointer to exactly the last word of a chunk is taken for glibc's pointer to the next chunk
// expect-exit: 0
// expect-summary: definite=0/0 indirect=0/0 possible=56/1 reachable=0/0
// expect-leak: possible 56/1 c_last_field.c:14
#include <stdlib.h>

struct record { long id; char name[40]; long stamp; };
long *stamp;

int main(void) {
    struct record *r = malloc(sizeof *r);
    stamp = &r->stamp;
    return 0;
}
