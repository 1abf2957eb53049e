/* common.h - helpers of the service-like test programs: a run loop with a deadline, SIGTERM/SIGINT
 * handling on request, a deterministic PRNG, and a pid announcement on stdout (the tests read it to run
 * `leakscope check PID`). */
#ifndef SERVICES_COMMON_H
#define SERVICES_COMMON_H

#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* noipa: the compiler may neither inline these nor drop the allocations in them. */
#define SITE __attribute__((noinline, noipa))

static volatile sig_atomic_t stop_requested;
static volatile sig_atomic_t handler_ran;

static void on_stop(int sig)
{
    (void)sig;
    stop_requested = 1;
    handler_ran = 1;
}

/* With handle != 0 the program handles SIGTERM and SIGINT itself (stops its loop, reports, exits 0);
 * otherwise their default action kills it. */
static void setup(int handle)
{
    if (handle) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_stop;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGINT, &sa, NULL);
    }
    printf("pid %d\n", (int)getpid());
    fflush(stdout);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Runs until `seconds` have passed (0: until a signal stops it, at most 60 s). */
static int keep_running(double start, double seconds)
{
    double limit = seconds > 0 ? seconds : 60.0;
    return !stop_requested && now_s() - start < limit;
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;

static uint64_t rnd(void)
{
    uint64_t x = rng_state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng_state = x;
    return x * 0x2545F4914F6CDD1DULL;
}

__attribute__((unused)) static void finish(const char *name)
{
    if (handler_ran) {
        fprintf(stderr, "%s: stop signal handled, exiting\n", name);
    }
}

#endif
