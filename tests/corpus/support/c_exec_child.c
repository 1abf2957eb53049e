// Exec'ed by c_exec_thread, c_fork_exec and c_posix_spawn: leaks a small list of its own (head definite,
// two nodes indirect) and keeps a block in a global (reachable); exits with 17.
#include <stdlib.h>
#define ESCAPE(p) __asm__ volatile("" : : "g"(p) : "memory")
struct node { struct node *next; long v; };
void *volatile child_global;
int main(void) {
    struct node *head = NULL;
    for (int i = 0; i < 3; i++) {
        struct node *n = malloc(sizeof *n);
        n->next = head;
        head = n;
    }
    ESCAPE(head);
    head = NULL;
    child_global = malloc(171);
    return 17;
}
