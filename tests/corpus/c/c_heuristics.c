// Memcheck's interior-pointer heuristics (on by default) applied to C blocks kept by globals through a
// pointer into them: length64 (8 bytes in, after a 64-bit count of the remaining bytes), newarray (8 bytes
// in, after an element count dividing the remaining size) and stdstring (24 bytes in, after length,
// capacity and refcount words matching the block size) make the block reachable; the same pointers with
// header words that do not fit leave it possibly lost.
// memcheck: same
// light: differs: the heuristics see usable sizes, and a count that fits any size the request could have had is accepted
// expect-exit: 0
// expect-summary: definite=0/0 indirect=0/0 possible=204/3 reachable=180/3
// expect-leak: possible 204/3 c_heuristics.c:21
// expect-leak: reachable 180/3 c_heuristics.c:21
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

char *volatile len64_ok, *volatile len64_bad;
char *volatile newarr_ok, *volatile newarr_bad;
char *volatile str_ok, *volatile str_bad;

__attribute__((noinline)) static char *block(size_t n, uint64_t w0, uint64_t w1, uint64_t w2) {
    char *p = malloc(n);
    memset(p, 0, n);
    memcpy(p, &w0, 8);
    memcpy(p + 8, &w1, 8);
    memcpy(p + 16, &w2, 8);
    return p;
}

int main(void) {
    len64_ok = block(72, 64, 0, 0) + 8;
    len64_bad = block(80, 63, 0, 0) + 8;
    newarr_ok = block(68, 3, 0, 0) + 8;
    newarr_bad = block(76, 7, 0, 0) + 8;
    char *s = block(40, 5, 15, 0);
    memcpy(s + 24, "hello", 6);
    str_ok = s + 24;
    s = block(48, 20, 15, 0);
    memcpy(s + 24, "world", 6);
    str_bad = s + 24;
    s = 0;
    return 0;
}
