/* The FMA peak of one core, in C: independent multiply-add chains held in vector registers.

   cc -O3 -march=native bench/peak.c -o peak && ./peak SECONDS

   The same chains as loopnet/machine.py's kernels, a = a * x + y, with 16 vectors of
   accumulators (8 without AVX-512, whose 16 registers must also hold x and y), written
   with the widest intrinsics the compiler is told the CPU has. Prints the vector width and
   GFLOP/s for float64 and float32 (an FMA is 2 FLOP), the best of five runs. */

#define _POSIX_C_SOURCE 199309L
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#if defined(__AVX512F__)
#define BITS 512
#define NV 16
typedef __m512d vd;
typedef __m512 vf;
#define SETD _mm512_set1_pd
#define SETF _mm512_set1_ps
#define FMAD _mm512_fmadd_pd
#define FMAF _mm512_fmadd_ps
#define SUMD _mm512_reduce_add_pd
#define SUMF _mm512_reduce_add_ps
#elif defined(__AVX2__) && defined(__FMA__)
#define BITS 256
#define NV 8
typedef __m256d vd;
typedef __m256 vf;
#define SETD _mm256_set1_pd
#define SETF _mm256_set1_ps
#define FMAD _mm256_fmadd_pd
#define FMAF _mm256_fmadd_ps
static double SUMD(__m256d v) { double t[4]; _mm256_storeu_pd(t, v); return t[0] + t[1] + t[2] + t[3]; }
static float SUMF(__m256 v) { float t[8]; _mm256_storeu_ps(t, v); float s = 0; for (int i = 0; i < 8; i++) s += t[i]; return s; }
#else
#error "bench/peak.c needs AVX2 and FMA, or AVX-512 (compile with -march=native on such a CPU)"
#endif

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

static double run_d(long reps, double *sink) {
    vd acc[NV];
    for (int k = 0; k < NV; k++) acc[k] = SETD(k / (double)NV);
    const vd x = SETD(0.999), y = SETD(0.001);
    const double t0 = now();
    for (long r = 0; r < reps; r++)
        for (int k = 0; k < NV; k++) acc[k] = FMAD(acc[k], x, y);
    const double t = now() - t0;
    double s = 0;
    for (int k = 0; k < NV; k++) s += SUMD(acc[k]);
    *sink += s; /* the result is used, so the chains cannot be dropped */
    return t;
}

static double run_f(long reps, double *sink) {
    vf acc[NV];
    for (int k = 0; k < NV; k++) acc[k] = SETF(k / (float)NV);
    const vf x = SETF(0.999f), y = SETF(0.001f);
    const double t0 = now();
    for (long r = 0; r < reps; r++)
        for (int k = 0; k < NV; k++) acc[k] = FMAF(acc[k], x, y);
    const double t = now() - t0;
    double s = 0;
    for (int k = 0; k < NV; k++) s += SUMF(acc[k]);
    *sink += s;
    return t;
}

int main(int argc, char **argv) {
    const double seconds = argc > 1 ? atof(argv[1]) : 0.2;
    double sink = 0;
    for (int dt = 0; dt < 2; dt++) {
        const int lanes = BITS / (dt == 0 ? 64 : 32);
        long reps = 1000;
        double t;
        while ((t = dt == 0 ? run_d(reps, &sink) : run_f(reps, &sink)) < seconds / 20) reps *= 4;
        reps = (long)(reps * (seconds / 5) / t) + 1;
        double best = 1e30;
        for (int k = 0; k < 5; k++) {
            t = dt == 0 ? run_d(reps, &sink) : run_f(reps, &sink);
            if (t < best) best = t;
        }
        printf("%s %.2f\n", dt == 0 ? "float64" : "float32", 2.0 * NV * lanes * reps / best / 1e9);
    }
    printf("bits %d\nsink %g\n", BITS, sink);
    return 0;
}
