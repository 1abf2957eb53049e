// Cycles of lost blocks: a block pointing to itself (definite), a 2-cycle and a 3-cycle (one definite,
// the rest indirect), a 3-cycle pointing into another 3-cycle (one definite for both), and a 4-cycle kept
// alive by a global pointing at one of its members (all reachable).
// memcheck: same
// expect-exit: 0
// expect-summary: definite=160/4 indirect=448/8 possible=0/0 reachable=320/4
// expect-leak: definite 16/1 c_cycles.c:27
// expect-leak: definite 32/1 c_cycles.c:34
// expect-leak: definite 48/1 c_cycles.c:42
// expect-leak: definite 64/1 c_cycles.c:49
// expect-leak: indirect 32/1 c_cycles.c:34
// expect-leak: indirect 96/2 c_cycles.c:42
// expect-leak: indirect 320/5 c_cycles.c:49
// expect-leak: reachable 320/4 c_cycles.c:58
#include <stdlib.h>
#define ESCAPE(p) __asm__ volatile("" : : "g"(p) : "memory")

struct c1 { struct c1 *next; long v; };
struct c2 { struct c2 *next; long v[3]; };
struct c3 { struct c3 *next; long v[5]; };
struct c4 { struct c4 *next, *other; long v[6]; };
struct c5 { struct c5 *next; long v[9]; };

struct c5 *volatile kept;

__attribute__((noinline)) static void self_loop(void) {
    struct c1 *a = malloc(sizeof *a);
    a->next = a;
    ESCAPE(a);
}

__attribute__((noinline)) static void ring2(void) {
    struct c2 *r[2];
    for (int i = 0; i < 2; i++) r[i] = malloc(sizeof *r[i]);
    r[0]->next = r[1];
    r[1]->next = r[0];
    ESCAPE(r[0]);
}

__attribute__((noinline)) static void ring3(void) {
    struct c3 *r[3];
    for (int i = 0; i < 3; i++) r[i] = malloc(sizeof *r[i]);
    for (int i = 0; i < 3; i++) r[i]->next = r[(i + 1) % 3];
    ESCAPE(r[0]);
}

__attribute__((noinline)) static void ring_into_ring(void) {
    struct c4 *r[6];
    for (int i = 0; i < 6; i++) r[i] = calloc(1, sizeof *r[i]);
    for (int i = 0; i < 3; i++) r[i]->next = r[(i + 1) % 3];
    for (int i = 3; i < 6; i++) r[i]->next = r[3 + (i + 1) % 3];
    r[1]->other = r[4];
    ESCAPE(r[0]);
}

__attribute__((noinline)) static void kept_ring(void) {
    struct c5 *r[4];
    for (int i = 0; i < 4; i++) r[i] = malloc(sizeof *r[i]);
    for (int i = 0; i < 4; i++) r[i]->next = r[(i + 1) % 4];
    kept = r[2];
}

int main(void) {
    self_loop();
    ring2();
    ring3();
    ring_into_ring();
    kept_ring();
    return 0;
}
