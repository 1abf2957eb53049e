/* mixed.c SECONDS [HANDLE] - a request loop with one site of each kind:
 *   load_config      start-up state, allocated once, never freed            -> stable
 *   handle_request   a buffer per request, freed at its end                 -> stable
 *   cache_insert     an LRU-like cache (FIFO eviction) of 400 entries that
 *                    fills over about 1 s, then replaces its entries        -> saturating
 *   history_append   a list only ever appended to (48 B per 20 ms)          -> growing, still reachable
 *   parse_error      a buffer lost on an error path (200 B per 100 ms)      -> growing, definitely lost
 * Requests come every 2.5 ms. SECONDS = 0 runs until SIGTERM/SIGINT (HANDLE = 1: handled). */
#include "common.h"

#define CACHE 400

struct entry {
    struct entry *next;
    char *value;
};

struct hist {
    struct hist *next;
    long request;
    char note[32];
};

static char *config[64];
static struct entry *cache[CACHE];
static unsigned cache_next, cache_count;
static struct hist *history;
static volatile uint64_t sink;

SITE static void load_config(void)
{
    for (int i = 0; i < 64; i++) {
        config[i] = malloc(256);
        memset(config[i], 'c', 256);
    }
}

SITE static void handle_request(long req)
{
    size_t n = 200 + rnd() % 1800;
    char *buf = malloc(n);
    memset(buf, (int)req, n);
    sink += (unsigned char)buf[n / 2] + (unsigned char)config[req % 64][0];
    free(buf);
}

SITE static void cache_insert(void)
{
    struct entry *e = malloc(sizeof *e);
    e->value = malloc(100 + rnd() % 500);
    e->value[0] = 1;
    if (cache_count == CACHE) {
        struct entry *old = cache[cache_next];
        free(old->value);
        free(old);
    } else {
        cache_count++;
    }
    cache[cache_next] = e;
    cache_next = (cache_next + 1) % CACHE;
}

SITE static void history_append(long req)
{
    struct hist *h = malloc(sizeof *h);
    h->request = req;
    snprintf(h->note, sizeof h->note, "request %ld", req);
    h->next = history;
    history = h;
}

SITE static void parse_error(long req)
{
    char *scratch = malloc(200);
    memset(scratch, (int)req, 200);
    sink += (unsigned char)scratch[req % 200];
    /* BUG (on purpose): scratch is not freed on this path. */
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 4;
    setup(argc > 2 && atoi(argv[2]));
    load_config();
    double start = now_s();
    for (long req = 0; keep_running(start, seconds); req++) {
        handle_request(req);
        if (cache_count < CACHE || req % 2 == 0) cache_insert();
        if (req % 8 == 0) history_append(req);
        if (req % 40 == 0) parse_error(req);
        usleep(2500);
    }
    finish("mixed");
    return 0;
}
