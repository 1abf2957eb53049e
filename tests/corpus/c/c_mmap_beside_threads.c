// A region mapped right below the mapping that holds another thread's stack is merged with it by the
// kernel when their flags match (a tool's own helper thread, whose stack is plain anonymous memory). The
// region lies below that thread's stack pointer, but it is not stack: its pointer keeps the block reachable.
// The program finds the other threads' stack pointers in /proc/self/task/*/syscall; with none (or only
// guarded pthread stacks, where the fixed mapping fails) the block is reachable all the same.
// memcheck: same
// expect-exit: 0
// expect-summary: definite=0/0 indirect=0/0 possible=0/0 reachable=4321/1
// expect-leak: reachable 4321/1 c_mmap_beside_threads.c:63
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

void **volatile region;

/// The stack pointer of thread `tid` as its syscall file shows it (the field before the last), or 0.
static uintptr_t stack_pointer(const char *tid) {
    char path[64], line[512];
    snprintf(path, sizeof path, "/proc/self/task/%s/syscall", tid);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    uintptr_t sp = 0;
    if (fgets(line, sizeof line, f)) {
        char *last = strrchr(line, ' ');
        if (last) {
            *last = 0;
            char *prev = strrchr(line, ' ');
            if (prev) sp = strtoull(prev + 1, NULL, 16);
        }
    }
    fclose(f);
    return sp;
}

/// Maps a page just below the mapping that contains `addr`; NULL if that page is taken.
static void **map_below_mapping_of(uintptr_t addr) {
    FILE *f = fopen("/proc/self/maps", "r");
    char line[512];
    uintptr_t lo, hi, start = 0;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "%lx-%lx", &lo, &hi) == 2 && addr >= lo && addr < hi) start = lo;
    if (f) fclose(f);
    if (!start) return NULL;
    void *r = mmap((void *)(start - 4096), 4096, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    return r == MAP_FAILED ? NULL : r;
}

int main(void) {
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;
    char self[32];
    snprintf(self, sizeof self, "%ld", (long)syscall(SYS_gettid));
    while (d && (e = readdir(d)) && !region)
        if (e->d_name[0] != '.' && strcmp(e->d_name, self) != 0)
            region = map_below_mapping_of(stack_pointer(e->d_name));
    if (d) closedir(d);
    void *block = malloc(4321);
    if (region)
        region[3] = block;
    else
        region = block;
    block = 0;
    return 0;
}
