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
const char *ak_status_str(int status);

typedef struct ak_conv ak_conv;
int ak_conv_create(ak_conv **out, const int64_t *p, int layout, int post_relu, int post_sum);
int ak_conv_forward(ak_conv *c, void *x, void *w, void *b, void *y);
int ak_conv_backward_data(ak_conv *c, void *dy, void *w, void *dx);
int ak_conv_backward_weights(ak_conv *c, void *x, void *dy, void *dw, void *db);
// ak_conv_backward runs backward-data (if dx) then backward-weights (if dw),
// reordering dy only once.
int ak_conv_backward(ak_conv *c, void *x, void *dy, void *w, void *dx, void *dw, void *db);
void ak_conv_destroy(ak_conv *c);
const char *ak_conv_impl(ak_conv *c, int which);

typedef struct ak_bn ak_bn;
int ak_bn_create(ak_bn **out, int64_t n, int64_t c, int64_t hw, float eps, int layout);
int ak_bn_train(ak_bn *b, void *x, void *gamma, void *beta, void *y, void *mean, void *var);
int ak_bn_infer(ak_bn *b, void *x, void *gamma, void *beta, void *mean, void *var, void *y);
int ak_bn_backward(ak_bn *b, void *x, void *dy, void *gamma, void *mean, void *var, void *dx, void *dgamma, void *dbeta);
void ak_bn_destroy(ak_bn *b);

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
