// Roots outside the program's image: a pointer stored in an anonymous mmap region keeps its block
// reachable; a region unmapped afterwards no longer does (definite); a region made unreadable with
// mprotect(PROT_NONE) is not scanned (definite); a pointer written to a file is gone (definite).
// memcheck: same
// expect-exit: 0
// expect-summary: definite=999/3 indirect=0/0 possible=0/0 reachable=111/1
// expect-leak: definite 222/1 c_mmap_roots.c:23
// expect-leak: definite 333/1 c_mmap_roots.c:26
// expect-leak: definite 444/1 c_mmap_roots.c:31
// expect-leak: reachable 111/1 c_mmap_roots.c:20
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

void **volatile region_keep;
void **volatile region_none;

int main(void) {
    void **r = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    r[100] = malloc(111);
    region_keep = r;
    void **u = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    u[7] = malloc(222);
    munmap(u, 4096);
    void **n = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    n[3] = malloc(333);
    mprotect(n, 8192, PROT_NONE);
    region_none = n;
    int fd[2];
    if (pipe(fd) == 0) {
        void *p = malloc(444);
        if (write(fd[1], &p, sizeof p) != sizeof p) return 1;
        p = 0;
    }
    r = u = n = 0;
    return 0;
}
