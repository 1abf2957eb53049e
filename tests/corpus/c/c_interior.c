// Interior pointers (possibly lost): a global pointing into a block's middle, at its last byte, and one past
// its end (not a pointer into it: definite); a block reached by its start from a possibly lost block is
// possibly lost too, and so is a whole lost cycle entered through an interior pointer; a block with both an
// interior and a start pointer is reachable; an interior pointer held by a lost block makes its target
// indirect. Offsets and contents are chosen so that no Memcheck heuristic applies.
// memcheck: same
// light: differs: one past the end of a 60-byte request is still inside its 72 usable bytes
// expect-exit: 0
// expect-summary: definite=76/2 indirect=90/1 possible=366/8 reachable=70/1
// expect-leak: definite 76/2 c_interior.c:30
// expect-leak: indirect 90/1 c_interior.c:30
// expect-leak: possible 246/5 c_interior.c:30
// expect-leak: possible 120/3 c_interior.c:55
// expect-leak: reachable 70/1 c_interior.c:30
#include <stdlib.h>
#include <string.h>
#define ESCAPE(p) __asm__ volatile("" : : "g"(p) : "memory")

struct link { struct link *next; long pad[3]; };

char *volatile mid;
char *volatile last;
char *volatile past;
char *volatile both_mid;
char *volatile both_start;
char *volatile into_chain;
char *volatile into_cycle;

__attribute__((noinline)) static void *zalloc(size_t n) {
    void *p = malloc(n);
    memset(p, 0, n);
    ESCAPE(p);
    return p;
}

int main(void) {
    char *a = zalloc(100);
    mid = a + 44;
    char *b = zalloc(50);
    last = b + 49;
    char *c = zalloc(60);
    past = c + 60;
    char *d = zalloc(70);
    both_mid = d + 13;
    both_start = d;

    struct link *l1 = zalloc(sizeof *l1);
    struct link *l2 = zalloc(sizeof *l2);
    struct link *l3 = zalloc(sizeof *l3);
    l1->next = l2;
    l2->next = l3;
    into_chain = (char *)l1 + 20;

    struct link *r[3];
    for (int i = 0; i < 3; i++) r[i] = calloc(1, sizeof(struct link) + 8);
    for (int i = 0; i < 3; i++) r[i]->next = r[(i + 1) % 3];
    into_cycle = (char *)r[1] + 36;

    char **holder = zalloc(16);
    char *target = zalloc(90);
    holder[1] = target + 50;
    ESCAPE(holder);

    a = b = c = d = target = 0;
    l1 = l2 = l3 = 0;
    holder = 0;
    memset(r, 0, sizeof r);
    ESCAPE(r);
    return 0;
}
