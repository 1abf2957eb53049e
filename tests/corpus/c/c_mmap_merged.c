// The kernel merges adjacent anonymous mappings: a region the program maps right below the mapping glibc
// made for a large block becomes one mapping with it. The program's part is still a root (its pointer keeps
// the 77-byte block reachable); the large blocks' own mappings are not (the lost 200000-byte block, aligned
// so that its mapping starts before its chunk, holds the only pointer to the 55-byte block: indirect).
// memcheck: same
// expect-exit: 0
// expect-summary: definite=200000/1 indirect=55/1 possible=0/0 reachable=1048653/2
// expect-leak: reachable 1048576/1 c_mmap_merged.c:30
// expect-leak: reachable 77/1 c_mmap_merged.c:33
// expect-leak: definite 200000/1 c_mmap_merged.c:34
// expect-leak: indirect 55/1 c_mmap_merged.c:35
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

void *volatile big;
void **volatile below_big;
void **volatile lost;
void **volatile below_lost;

/// Maps one page just below the page holding `p` (MAP_FIXED_NOREPLACE: never over anything).
static void **map_below(void *p) {
    void *want = (void *)(((uintptr_t)p & ~(uintptr_t)4095) - 4096);
    void *r = mmap(want, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    return r == MAP_FAILED ? NULL : r;
}

int main(void) {
    big = malloc(1 << 20);
    below_big = map_below(big);
    if (!below_big) return 2;
    below_big[5] = malloc(77);
    lost = memalign(65536, 200000);
    lost[9] = malloc(55);
    below_lost = map_below((char *)lost - 65536);
    lost = 0;
    return 0;
}
