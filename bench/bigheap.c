/* bigheap: builds a linked list of N 256-byte nodes (N=4000000: ~1 GiB live at exit, all reachable), so
   the exit scan has a large heap to walk. Prints one checksum line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct node { struct node *next; char pad[248]; };
static struct node *head;

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 4000000;
    unsigned long sum = 0;
    for (long i = 0; i < n; i++) {
        struct node *x = malloc(sizeof *x);
        memset(x->pad, (int)i, sizeof x->pad);
        x->next = head;
        head = x;
        sum += (unsigned long)x->pad[0];
    }
    printf("bigheap %ld nodes checksum %lu\n", n, sum);
    return 0;
}
