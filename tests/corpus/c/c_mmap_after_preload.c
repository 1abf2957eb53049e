// A region mapped right after the zero-filled data of a preloaded library (a tool's agent) is merged by the
// kernel with that anonymous mapping. The library's data ends at an address that is not word-aligned: the
// part of the mapping after it is still scanned word by word at aligned addresses, so the region's pointer
// keeps its block reachable. Without LD_PRELOAD, or when the page there is taken, the block is kept by a
// global instead: reachable all the same.
// memcheck: same
// expect-exit: 0
// expect-summary: definite=0/0 indirect=0/0 possible=0/0 reachable=5555/1
// expect-leak: reachable 5555/1 c_mmap_after_preload.c:69
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

void **volatile region;

/// The end of the anonymous mapping that directly follows the last mapping of file `path`, or 0.
static uintptr_t end_of_data_after(const char *path) {
    FILE *f = fopen("/proc/self/maps", "r");
    char line[4096];
    uintptr_t lo, hi, file_end = 0, found = 0;
    while (f && fgets(line, sizeof line, f)) {
        if (sscanf(line, "%lx-%lx", &lo, &hi) != 2) continue;
        char *name = strchr(line, '/');
        if (name && strncmp(name, path, strlen(path)) == 0) {
            file_end = hi;
            found = 0;
        } else if (file_end && lo == file_end && !name && strstr(line, "rw-p")) {
            found = hi;
            file_end = 0;
        } else {
            file_end = 0;
        }
    }
    if (f) fclose(f);
    return found;
}

/// Maps the page after the anonymous data of the first LD_PRELOAD library, or NULL.
static void **map_after_preload(void) {
    const char *preload = getenv("LD_PRELOAD");
    if (!preload || !*preload) return NULL;
    char path[4096];
    size_t n = strcspn(preload, ": ");
    if (n >= sizeof path) return NULL;
    memcpy(path, preload, n);
    path[n] = 0;
    char *real = realpath(path, NULL);
    if (!real) return NULL;
    uintptr_t end = end_of_data_after(real);
    free(real);
    if (!end) return NULL;
    void *r = mmap((void *)end, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
                   -1, 0);
    return r == MAP_FAILED ? NULL : r;
}

int main(void) {
    region = map_after_preload();
    if (getenv("MMAP_AFTER_PRELOAD_DEBUG")) {
        fprintf(stderr, "region %p\n", (void *)region);
        FILE *f = fopen("/proc/self/maps", "r");
        char line[4096];
        while (f && fgets(line, sizeof line, f)) fputs(line, stderr);
        if (f) fclose(f);
    }
    void *block = malloc(5555);
    if (region)
        region[5] = block;
    else
        region = block;
    block = 0;
    return 0;
}
