/* slowleak.c SECONDS NOISE - a slow reachable leak under a large, noisy, steady working set.
 *   ws_fill          a working set of 20000 blocks (about 20-80 MB), some replaced every 2 ms by blocks of
 *                    random size; one call site for the initial fill and the replacements     -> not growing
 *   remember_client  a 64-byte node appended to a global list 5 times a second (320 B/s)   -> growing
 * NOISE 0: 1024-byte blocks (the working set's bytes never change); 1: 16..4096 bytes, 400 replaced
 * per step (independent noise); 2: 16..8192 bytes, 40 replaced per step (a slowly wandering level). */
#include "common.h"

#define SET 20000

static void *set[SET];
static int filled;

struct client {
    struct client *next;
    long id;
    char name[48];
};
static struct client *clients;

static size_t block_size(int noise)
{
    switch (noise) {
    case 0: return 1024;
    case 1: return 16 + rnd() % 4080;
    default: return 16 + rnd() % 8176;
    }
}

SITE static void ws_fill(int noise, int count)
{
    for (int k = 0; k < count; k++) {
        int i = filled < SET ? filled++ : (int)(rnd() % SET);
        free(set[i]);
        size_t n = block_size(noise);
        set[i] = malloc(n);
        memset(set[i], 0x5a, n < 64 ? n : 64);
    }
}

SITE static void remember_client(long id)
{
    struct client *c = malloc(sizeof *c);
    c->id = id;
    snprintf(c->name, sizeof c->name, "client-%ld", id);
    c->next = clients;
    clients = c;
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 4;
    int noise = argc > 2 ? atoi(argv[2]) : 1;
    setup(0);
    int per_step = noise == 2 ? 40 : 400;
    double start = now_s(), next_client = start;
    for (long step = 0; keep_running(start, seconds); step++) {
        ws_fill(noise, filled < SET ? SET : per_step);
        if (now_s() >= next_client) {
            remember_client(step);
            next_client += 0.2;
        }
        usleep(2000);
    }
    return 0;
}
