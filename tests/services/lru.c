/* lru.c SECONDS [CLEANUP] - two bounded caches with least-recently-used eviction, nothing else:
 *   small_cache_put  512 entries, full within a few milliseconds (before the first snapshot), then
 *                    replaced at about 2000 entries/s                                   -> saturating
 *   big_cache_put    3000 entries of 64..2048 bytes, filling over about 1.5 s, then
 *                    replaced                                                          -> saturating
 * Keys are drawn from a space 4 times the capacity, so lookups both hit (the entry moves to the front)
 * and miss (a new entry evicts the least recently used one). Neither may be called growing. CLEANUP = 1:
 * both caches are emptied before main returns (a clean shutdown); they are still listed, with their verdict. */
#include "common.h"

struct node {
    struct node *prev, *next;
    unsigned key;
    char *value;
};

struct lru {
    struct node **slot; /* key -> node */
    struct node head;   /* head.next: most recent */
    unsigned count, cap;
};

static void lru_init(struct lru *c, unsigned cap)
{
    c->slot = calloc(4 * cap, sizeof *c->slot);
    c->head.prev = c->head.next = &c->head;
    c->count = 0;
    c->cap = cap;
}

static void unlink_node(struct node *n)
{
    n->prev->next = n->next;
    n->next->prev = n->prev;
}

static void push_front(struct lru *c, struct node *n)
{
    n->next = c->head.next;
    n->prev = &c->head;
    c->head.next->prev = n;
    c->head.next = n;
}

/* Looks the key up; on a miss stores a new value of `size` bytes, evicting the oldest when full. */
static inline void lru_put(struct lru *c, unsigned key, size_t size, char *(*make)(size_t))
{
    struct node *n = c->slot[key];
    if (n) {
        unlink_node(n);
        push_front(c, n);
        return;
    }
    if (c->count == c->cap) {
        struct node *old = c->head.prev;
        unlink_node(old);
        c->slot[old->key] = NULL;
        free(old->value);
        free(old);
        c->count--;
    }
    n = malloc(sizeof *n);
    n->key = key;
    n->value = make(size);
    c->slot[key] = n;
    push_front(c, n);
    c->count++;
}

SITE static char *small_value(size_t n) { char *v = malloc(n); v[0] = 1; return v; }
SITE static char *big_value(size_t n) { char *v = malloc(n); v[0] = 2; return v; }

static struct lru small, big;

static void lru_clear(struct lru *c)
{
    while (c->head.next != &c->head) {
        struct node *n = c->head.next;
        unlink_node(n);
        free(n->value);
        free(n);
    }
    free(c->slot);
}

SITE static void small_cache_put(void) { lru_put(&small, (unsigned)(rnd() % 2048), 32 + rnd() % 480, small_value); }
SITE static void big_cache_put(void) { lru_put(&big, (unsigned)(rnd() % 12000), 64 + rnd() % 1984, big_value); }

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 4;
    setup(0);
    lru_init(&small, 512);
    lru_init(&big, 3000);
    double start = now_s();
    for (long step = 0; keep_running(start, seconds); step++) {
        for (int k = 0; k < 2; k++) small_cache_put();
        for (int k = 0; k < 4; k++) big_cache_put();
        usleep(1000);
    }
    if (argc > 2 && atoi(argv[2])) {
        lru_clear(&small);
        lru_clear(&big);
    }
    return 0;
}
