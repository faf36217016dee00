/* The C floor: a full-batch training epoch of a tiny network, as a plain C program.

   The same math as loopnet's loops (loopnet/kernels.py: forward_pass, loss_value,
   output_delta, backward_pass, sgd_update; train_epochs for the epoch), term for
   term and in the same order, so its final weights equal loopnet's:

     F1  z[n, j] = b[j] + sum_i a_prev[n, i] W[i, j]          (i ascending)
     F2  a = f(z)
     L   the loss of the epoch, recorded in losses[e]           (sse or bce, every sample weight 1)
     B1  delta = (a - y) c f'(z)  (sse: c = 1)   or  (a - y) c  (sigmoid + bce: c = 1 / (N K))
     B3  dW[i, j] = sum_n a_prev[n, i] delta[n, j]             (n ascending)
     B4  db[j] = sum_n delta[n, j]
     B2  delta_prev[n, i] = (sum_j delta[n, j] W[i, j]) f'(z_prev[n, i])
     U1  params -= lr grads                                     (after every gradient exists)

   The network is fixed at compile time, one build per network:

     cc -O3 -march=native -ffp-contract=off -DROWS=4 -DLAYERS=2 -DSIZES=2,2,1 \
        -DACTS=SIGMOID,SIGMOID -DLOSS=SSE loopnet/cfloor.c -lm -o cfloor

   -ffp-contract=off keeps a * b + c two roundings, as Numba's strict kernels do
   (GCC would otherwise fuse it into one FMA); no -ffast-math. exp, tanh and log1p
   are the C library's, which Numba's compiled code calls too.

   Usage: cfloor DATA EPOCHS REPEATS LR
   DATA holds ROWS * n0 inputs, ROWS * nL targets and the P initial parameters
   (layer by layer: W row-major, then b), as numbers strtod reads (hex floats
   keep them exact). Each repeat trains from those parameters for EPOCHS epochs;
   the program prints the best repeat's nanoseconds per epoch (the thread's CPU
   time, so time spent waiting for a shared core is not counted), the last
   epoch's loss and the final parameters, as hex floats. */

#define _POSIX_C_SOURCE 199309L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { IDENTITY, SIGMOID, TANH, RELU, LEAKY_RELU };    /* loopnet/activations.py's codes */
enum { SSE, MSE, BCE };                                /* loopnet/losses.py's codes */

static const int sizes[] = {SIZES};
static const int acts[] = {ACTS};

#define N0 (sizes[0])
#define NL (sizes[LAYERS])

static int n_params(void) {
    int p = 0;
    for (int l = 0; l < LAYERS; l++) p += sizes[l] * sizes[l + 1] + sizes[l + 1];
    return p;
}

static int n_units(void) {
    int u = 0;
    for (int l = 1; l <= LAYERS; l++) u += sizes[l];
    return u;
}

/* activations.py: activate_scalar and derivative_scalar */
static inline double activate(int code, double z) {
    if (code == SIGMOID) {
        if (z >= 0) return 1.0 / (1.0 + exp(-z));
        double e = exp(z);
        return e / (1.0 + e);
    }
    if (code == TANH) return tanh(z);
    if (code == RELU) return z > 0 ? z : 0.0 * z;
    if (code == LEAKY_RELU) return z > 0 ? z : 0.01 * z;
    return z;
}

static inline double derivative(int code, double z, double a) {
    if (code == SIGMOID) return a * (1.0 - a);
    if (code == TANH) return 1.0 - a * a;
    if (code == RELU) return z > 0 ? 1.0 : 0.0;
    if (code == LEAKY_RELU) return z > 0 ? 1.0 : 0.01;
    return 1.0;
}

/* One epoch: one full batch of ROWS rows, one update. Layer l's z, a, delta rows live at
   buf[ROWS * u + n * J + j], u = units of the layers before it (as loopnet's flat work buffers). */
static double epoch(double *restrict params, double *restrict grads, const double *restrict X,
                    const double *restrict Y, double *restrict z, double *restrict a, double *restrict d,
                    double lr) {
    int w = 0, u = 0;
    for (int l = 0; l < LAYERS; l++) { /* F1, F2 */
        const int I = sizes[l], J = sizes[l + 1];
        const double *x = l == 0 ? X : a + ROWS * (u - I);
        for (int n = 0; n < ROWS; n++)
            for (int j = 0; j < J; j++) {
                double s = params[w + I * J + j];
                for (int i = 0; i < I; i++) s += x[n * I + i] * params[w + i * J + j];
                z[ROWS * u + n * J + j] = s;
            }
        for (int q = ROWS * u; q < ROWS * (u + J); q++) a[q] = activate(acts[l], z[q]);
        w += I * J + J;
        u += J;
    }
    const int out = ROWS * (u - NL); /* the loss and B1 */
    const double S = ROWS;           /* the sample weights' sum: every weight is 1 */
    double total = 0.0;
    for (int n = 0; n < ROWS; n++) {
        double c = LOSS == SSE ? 1.0 : LOSS == MSE ? 2.0 * 1.0 / (S * NL) : 1.0 / (S * NL);
        double row = 0.0;
        for (int k = 0; k < NL; k++) {
            const int q = out + n * NL + k;
            const double y = Y[n * NL + k];
            if (LOSS == BCE) {
                const double x = z[q];
                row += (0.0 > x ? 0.0 : x) - y * x + log1p(exp(-fabs(x)));
                d[q] = (a[q] - y) * c; /* bce needs a sigmoid output */
            } else {
                const double e = a[q] - y;
                row += e * e;
                d[q] = (a[q] - y) * c * derivative(acts[LAYERS - 1], z[q], a[q]);
            }
        }
        total += 1.0 * row;
    }
    double loss = LOSS == SSE ? 0.5 * total : total / (S * NL);
    if (LOSS != SSE) loss *= S / S; /* the batch's share of the epoch's weight, as train_epochs */
    for (int l = LAYERS - 1; l >= 0; l--) { /* B3, B4, B2 */
        const int I = sizes[l], J = sizes[l + 1];
        u -= J;
        w -= I * J + J;
        const double *x = l == 0 ? X : a + ROWS * (u - I);
        const double *delta = d + ROWS * u;
        for (int q = w; q < w + I * J + J; q++) grads[q] = 0.0;
        for (int n = 0; n < ROWS; n++)
            for (int i = 0; i < I; i++)
                for (int j = 0; j < J; j++) grads[w + i * J + j] += x[n * I + i] * delta[n * J + j];
        for (int n = 0; n < ROWS; n++)
            for (int j = 0; j < J; j++) grads[w + I * J + j] += delta[n * J + j];
        if (l > 0) {
            const int prev = ROWS * (u - I);
            for (int n = 0; n < ROWS; n++)
                for (int i = 0; i < I; i++) {
                    double s = 0.0;
                    for (int j = 0; j < J; j++) s += delta[n * J + j] * params[w + i * J + j];
                    const int q = prev + n * I + i;
                    d[q] = s * derivative(acts[l - 1], z[q], a[q]);
                }
        }
    }
    const int P = n_params();
    for (int p = 0; p < P; p++) params[p] -= lr * grads[p]; /* U1 */
    return 0.0 + loss;
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t); /* CPU time: a shared machine's waits are not counted */
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

static void read_numbers(FILE *f, double *dst, int count, const char *what) {
    for (int k = 0; k < count; k++) {
        char word[64];
        char *end;
        if (fscanf(f, "%63s", word) != 1 || (dst[k] = strtod(word, &end), *end != '\0')) {
            fprintf(stderr, "cfloor: expected %d numbers for %s, got %d\n", count, what, k);
            exit(2);
        }
    }
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: %s DATA EPOCHS REPEATS LR\n", argv[0]);
        return 2;
    }
    const long E = atol(argv[2]);
    const int repeats = atoi(argv[3]);
    const double lr = strtod(argv[4], NULL);
    const int P = n_params(), U = n_units();
    double *X = malloc(sizeof(double) * ROWS * N0), *Y = malloc(sizeof(double) * ROWS * NL);
    double *start = malloc(sizeof(double) * P), *params = malloc(sizeof(double) * P);
    double *grads = malloc(sizeof(double) * P), *losses = malloc(sizeof(double) * (E > 0 ? E : 1));
    double *z = malloc(sizeof(double) * ROWS * U), *a = malloc(sizeof(double) * ROWS * U);
    double *d = malloc(sizeof(double) * ROWS * U);
    FILE *f = fopen(argv[1], "r");
    if (!f) {
        perror(argv[1]);
        return 2;
    }
    read_numbers(f, X, ROWS * N0, "X");
    read_numbers(f, Y, ROWS * NL, "Y");
    read_numbers(f, start, P, "the parameters");
    fclose(f);
    double best = INFINITY;
    for (int r = 0; r < repeats; r++) {
        memcpy(params, start, sizeof(double) * P);
        const double t0 = now();
        for (long e = 0; e < E; e++) losses[e] = epoch(params, grads, X, Y, z, a, d, lr);
        const double t = now() - t0;
        if (t < best) best = t;
    }
    printf("ns_per_epoch %.3f\n", E > 0 ? 1e9 * best / E : 0.0);
    printf("loss %a\n", E > 0 ? losses[E - 1] : NAN);
    printf("params");
    for (int p = 0; p < P; p++) printf(" %a", params[p]);
    printf("\n");
    return 0;
}
