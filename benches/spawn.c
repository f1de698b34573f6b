/* benches/spawn.c: start-up time of a program under several environments, interleaved.
 *
 *   spawn N 'ENV...' ['ENV...' ...] -- PROGRAM [ARG...]
 *
 * Each ENV argument is one configuration: space-separated NAME=VALUE assignments added to the
 * environment (from which LD_PRELOAD and every ARMR_* variable are first removed); '' is the
 * program alone. N rounds, each running PROGRAM once per configuration in turn (posix_spawn, then
 * waitpid), so that a machine shared with other work slows every configuration alike. Prints one
 * line per configuration:
 *
 *   config=I runs=N mean_ms=M median_ms=D min_ms=L
 *
 * and fails if any run exits non-zero.
 */
#define _GNU_SOURCE
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

extern char **environ;

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The base environment plus the assignments of `config`. */
static char **environment(const char *config) {
    size_t n = 0;
    for (char **e = environ; *e; e++)
        n++;
    char **env = calloc(n + 64, sizeof *env);
    size_t k = 0;
    for (char **e = environ; *e; e++)
        if (strncmp(*e, "LD_PRELOAD=", 11) && strncmp(*e, "ARMR_", 5))
            env[k++] = *e;
    char *copy = strdup(config);
    for (char *tok = strtok(copy, " "); tok && k < n + 63; tok = strtok(NULL, " "))
        env[k++] = tok;
    env[k] = NULL;
    return env;
}

int main(int argc, char **argv) {
    int sep = 0;
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--")) {
            sep = i;
            break;
        }
    if (argc < 5 || sep < 3 || sep == argc - 1) {
        fprintf(stderr, "usage: spawn N 'ENV...' ['ENV...' ...] -- PROGRAM [ARG...]\n");
        return 2;
    }
    long n = atol(argv[1]);
    int configs = sep - 2;
    char ***envs = calloc(configs, sizeof *envs);
    double **times = calloc(configs, sizeof *times);
    for (int c = 0; c < configs; c++) {
        envs[c] = environment(argv[2 + c]);
        times[c] = calloc(n, sizeof **times);
    }
    char **program = argv + sep + 1;
    for (long r = 0; r < n; r++)
        for (int c = 0; c < configs; c++) {
            pid_t pid;
            int status;
            double start = now_ms();
            if (posix_spawn(&pid, program[0], NULL, NULL, program, envs[c]) != 0) {
                perror("posix_spawn");
                return 1;
            }
            if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                fprintf(stderr, "spawn: configuration %d ('%s') failed\n", c, argv[2 + c]);
                return 1;
            }
            times[c][r] = now_ms() - start;
        }
    for (int c = 0; c < configs; c++) {
        double sum = 0;
        for (long r = 0; r < n; r++)
            sum += times[c][r];
        qsort(times[c], n, sizeof **times, cmp);
        double median = n % 2 ? times[c][n / 2] : (times[c][n / 2 - 1] + times[c][n / 2]) / 2;
        printf("config=%d runs=%ld mean_ms=%.4f median_ms=%.4f min_ms=%.4f\n", c, n, sum / n, median, times[c][0]);
    }
    return 0;
}
