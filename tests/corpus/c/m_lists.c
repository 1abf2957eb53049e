// A lost linked list (1 definite head + indirect nodes), a lost 2-cycle, a block reachable from a global,
// and a block known only through an interior pointer (possibly lost).
// memcheck: same
// expect-exit: 0
// expect-summary: definite=56/2 indirect=112/5 possible=64/1 reachable=100/1
// expect-leak: indirect 20/1 m_lists.c:38
// expect-leak: indirect 20/1 m_lists.c:41
// expect-leak: possible 64/1 m_lists.c:49
// expect-leak: indirect 72/3 m_lists.c:27
// expect-leak: definite 32/1 m_lists.c:36
// expect-leak: definite 24/1 m_lists.c:27
// expect-leak: reachable 100/1 m_lists.c:54
#include <stdlib.h>

struct node { struct node *next; long v[2]; };
struct big { struct big *other; char pad[24]; };

// Makes gcc -O2 keep allocations whose pointers are then dropped.
#define ESCAPE(p) __asm__ volatile("" : : "g"(p) : "memory")

void *volatile keep;
char *volatile interior;

__attribute__((noinline)) static void lose_list(void) {
    struct node *head = NULL;
    for (int i = 0; i < 4; i++) {
        struct node *n = malloc(sizeof *n);
        n->next = head;
        head = n;
    }
    ESCAPE(head);
    head = NULL;
}

__attribute__((noinline)) static void lose_cycle(void) {
    struct big *a = malloc(sizeof *a);   // definite 32 (the clique leader)
    a->other = NULL;
    struct big *b = malloc(20);
    ((struct big **)b)[0] = a;
    a->other = b;
    struct big *c = malloc(20);
    ((struct big **)c)[0] = b;
    a->other = c;
    ((struct big **)b)[1] = (void *)c;
    ESCAPE(a);
}

__attribute__((noinline)) static void only_interior(void) {
    char *p = malloc(64);
    interior = p + 8;
}

__attribute__((noinline)) static void in_global(void) {
    keep = malloc(100);
}

int main(void) {
    lose_list();
    lose_cycle();
    only_interior();
    in_global();
    return 0;
}
