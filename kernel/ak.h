// ak.h: the C side of package kernel, a thin layer over the oneDNN 2.x C API
// and OpenBLAS. Every function returns 0 or a dnnl_status_t / AK_E* code.
#ifndef AK_H
#define AK_H

#include <stddef.h>
#include <stdint.h>

#define AK_ENOMEM 1000
#define AK_EINVAL 1001

// Layout of an activation tensor: AK_PLAIN is nchw; AK_BLOCKED is nChw16c
// when the channel count is a multiple of 16 and nchw otherwise.
enum { AK_PLAIN = 0, AK_BLOCKED = 1 };

int ak_init(void);
void ak_set_threads(int n);
// ak_enter applies the thread count to the calling OS thread (OpenMP's
// setting is per thread); every executing function calls it first.
void ak_enter(void);
const char *ak_status_str(int status);

typedef struct ak_conv ak_conv;
// Convolution algorithms: AK_ALGO_AUTO picks Winograd where it is known to
// be faster (see conv_alg in ak.c), else direct.
enum { AK_ALGO_AUTO = 0, AK_ALGO_DIRECT = 1, AK_ALGO_WINOGRAD = 2 };
int ak_conv_create(ak_conv **out, const int64_t *p, int layout, int post_relu, int post_sum, int algo);
int ak_conv_forward(ak_conv *c, void *x, void *w, void *b, void *y);
int ak_conv_backward_data(ak_conv *c, void *dy, void *w, void *dx);
int ak_conv_backward_weights(ak_conv *c, void *x, void *dy, void *dw, void *db);
// ak_conv_backward runs backward-data (if dx) then backward-weights (if dw),
// reordering dy only once.
int ak_conv_backward(ak_conv *c, void *x, void *dy, void *w, void *dx, void *dw, void *db);
void ak_conv_destroy(ak_conv *c);
const char *ak_conv_impl(ak_conv *c, int which);

// Batch norm in bn.c (no primitive objects; OpenMP over images).
int ak_bn2_infer(int64_t n, int64_t c, int64_t hw, int layout, float eps, const float *x, const float *gamma,
        const float *beta, const float *mean, const float *var, float *y);
// Training forward and backward: y = bn(x) (relu 0, res NULL), relu(bn(x)),
// or relu(bn(x) + res); backward takes that y (NULL = no ReLU) and, if dres
// is not NULL, also writes the residual's gradient there (dy where y > 0).
int ak_bn2_train_relu(int64_t n, int64_t c, int64_t hw, int layout, float eps, const float *x, const float *gamma,
        const float *beta, float *y, float *mean, float *var, int relu, const float *res);
int ak_bn2_backward_relu(int64_t n, int64_t c, int64_t hw, int layout, float eps, const float *x, const float *dy,
        const float *y, const float *gamma, const float *mean, const float *var, float *dx, float *dres,
        float *dgamma, float *dbeta);

typedef struct ak_pool ak_pool;
// p: N C H W KH KW SH SW PH PW. alg: 0 max, 1 avg including padding, 2 avg excluding padding.
int ak_pool_create(ak_pool **out, const int64_t *p, int alg, int layout);
size_t ak_pool_workspace_size(ak_pool *pl);
int ak_pool_forward(ak_pool *pl, void *x, void *y, void *ws);
int ak_pool_backward(ak_pool *pl, void *dy, void *ws, void *dx);
void ak_pool_destroy(ak_pool *pl);

typedef struct ak_reorder ak_reorder;
int ak_reorder_create(ak_reorder **out, int64_t n, int64_t c, int64_t h, int64_t w, int to_blocked);
int ak_reorder_run(ak_reorder *r, void *src, void *dst);
void ak_reorder_destroy(ak_reorder *r);

void ak_sgemm(int ta, int tb, int m, int n, int k, float alpha, const float *a, int lda,
              const float *b, int ldb, float beta, float *c, int ldc);

#endif
