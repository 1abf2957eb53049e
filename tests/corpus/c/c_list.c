// Linked lists: a lost singly linked list (head definite, the rest indirect), a lost doubly linked list
// (every node reaches every other: one definite, the rest indirect), a list kept by a global (all
// reachable), and a list whose head is lost while a global still points at its third node (head and second
// lost, the third and later reachable).
// memcheck: same
// expect-exit: 0
// expect-summary: definite=96/3 indirect=208/8 possible=0/0 reachable=240/7
// expect-leak: definite 16/1 c_list.c:29
// expect-leak: definite 32/1 c_list.c:40
// expect-leak: definite 48/1 c_list.c:63
// expect-leak: indirect 64/4 c_list.c:29
// expect-leak: indirect 96/3 c_list.c:40
// expect-leak: indirect 48/1 c_list.c:63
// expect-leak: reachable 48/3 c_list.c:52
// expect-leak: reachable 192/4 c_list.c:63
#include <stdlib.h>
#define ESCAPE(p) __asm__ volatile("" : : "g"(p) : "memory")

struct snode { struct snode *next; long v; };
struct dnode { struct dnode *next, *prev; long v[2]; };
struct tnode { struct tnode *next; char pad[40]; };

struct snode *volatile kept_list;
struct tnode *volatile kept_third;

__attribute__((noinline)) static void lose_slist(int n) {
    struct snode *head = NULL;
    for (int i = 0; i < n; i++) {
        struct snode *s = malloc(sizeof *s);
        s->next = head;
        s->v = i;
        head = s;
    }
    ESCAPE(head);
}

__attribute__((noinline)) static void lose_dlist(int n) {
    struct dnode *head = NULL;
    for (int i = 0; i < n; i++) {
        struct dnode *d = malloc(sizeof *d);
        d->next = head;
        d->prev = NULL;
        if (head) head->prev = d;
        head = d;
    }
    ESCAPE(head);
}

__attribute__((noinline)) static void keep_slist(int n) {
    struct snode *head = NULL;
    for (int i = 0; i < n; i++) {
        struct snode *s = calloc(1, sizeof *s);
        s->next = head;
        head = s;
    }
    kept_list = head;
}

__attribute__((noinline)) static void keep_third(int n) {
    struct tnode *head = NULL;
    struct tnode *nodes[8];
    for (int i = n - 1; i >= 0; i--) {
        struct tnode *t = calloc(1, sizeof *t);
        t->next = head;
        head = t;
        nodes[i] = t;
    }
    kept_third = nodes[2];
    ESCAPE(head);
}

int main(void) {
    lose_slist(5);
    lose_dlist(4);
    keep_slist(3);
    keep_third(6);
    return 0;
}
