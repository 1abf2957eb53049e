// Binary trees: a lost complete tree (root definite, 6 nodes indirect), a lost tree with parent pointers
// (every node reaches the root: one definite, 14 indirect), a tree kept by a global (reachable), and a lost
// tree one of whose subtrees a global still holds (that subtree reachable, the rest lost).
// memcheck: same
// expect-exit: 0
// expect-summary: definite=80/3 indirect=664/23 possible=0/0 reachable=168/6
// expect-leak: definite 24/1 c_tree.c:27
// expect-leak: definite 32/1 c_tree.c:36
// expect-leak: definite 24/1 c_tree.c:54
// expect-leak: indirect 144/6 c_tree.c:27
// expect-leak: indirect 448/14 c_tree.c:36
// expect-leak: indirect 72/3 c_tree.c:54
// expect-leak: reachable 96/3 c_tree.c:46
// expect-leak: reachable 72/3 c_tree.c:54
#include <stdlib.h>
#define ESCAPE(p) __asm__ volatile("" : : "g"(p) : "memory")

struct bt { struct bt *l, *r; long key; };
struct pt { struct pt *l, *r, *parent; long key; };
struct kt { struct kt *l, *r; char name[16]; };

struct kt *volatile kept_tree;
struct bt *volatile kept_subtree;

__attribute__((noinline)) static struct bt *build_bt(int depth, long key) {
    if (depth == 0) return NULL;
    struct bt *n = malloc(sizeof *n);
    n->key = key;
    n->l = build_bt(depth - 1, 2 * key);
    n->r = build_bt(depth - 1, 2 * key + 1);
    return n;
}

__attribute__((noinline)) static struct pt *build_pt(int depth, struct pt *parent) {
    if (depth == 0) return NULL;
    struct pt *n = malloc(sizeof *n);
    n->parent = parent;
    n->key = depth;
    n->l = build_pt(depth - 1, n);
    n->r = build_pt(depth - 1, n);
    return n;
}

__attribute__((noinline)) static struct kt *build_kt(int depth) {
    if (depth == 0) return NULL;
    struct kt *n = calloc(1, sizeof *n);
    n->l = build_kt(depth - 1);
    n->r = build_kt(depth - 1);
    return n;
}

__attribute__((noinline)) static struct bt *build_bt2(int depth) {
    if (depth == 0) return NULL;
    struct bt *n = calloc(1, sizeof *n);
    n->l = build_bt2(depth - 1);
    n->r = build_bt2(depth - 1);
    return n;
}

int main(void) {
    struct bt *a = build_bt(3, 1);
    ESCAPE(a);
    struct pt *b = build_pt(4, NULL);
    ESCAPE(b);
    kept_tree = build_kt(2);
    struct bt *c = build_bt2(3);
    kept_subtree = c->r;
    ESCAPE(c);
    a = 0;
    b = 0;
    c = 0;
    return 0;
}
