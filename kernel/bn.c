// bn.c: batch normalisation over [N,C,HW] in plain (nchw) or blocked
// (nChw16c) layout, OpenMP-parallel over images. Used instead of oneDNN's
// batch norm, whose NCHW version is slow and whose blocked version uses
// spinning barriers that stall for whole scheduler slices on a busy machine.
//
// Images are handed out dynamically in pairs, so that when the machine is
// busy and one thread is descheduled the others take over its share instead
// of waiting for it at the end of the loop.
//
// Statistics use shifted sums (shift = a sample of the channel) in float
// over runs of at most RUN elements, accumulated in double.
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <omp.h>
#include "ak.h"

#define RUN 256
#define CLONES __attribute__((target_clones("avx512f", "avx2", "default")))

// grow-only buffer for per-image partial sums (calls are serialised)
static double *g_part;
static size_t g_part_len;

static double *partials(size_t len) {
    if (g_part_len < len) {
        free(g_part);
        g_part = malloc(len * sizeof(double));
        g_part_len = g_part ? len : 0;
    }
    if (g_part) memset(g_part, 0, len * sizeof(double));
    return g_part;
}

// ---- plain: one channel of one image is a contiguous run of hw values

// keep returns g where the ReLU output m is positive, else 0.
static inline float keep(float g, float m) { return m > 0 ? g : 0; }

CLONES static void plain_sums(const float *x, const float *y, const float *m, int64_t len, float xs, double *s1,
        double *s2) {
    // y == NULL: s1 += Σ(x−xs), s2 += Σ(x−xs)²; else s1 += Σy, s2 += Σ y·(x−xs)
    // with y taken as 0 where m (if not NULL) is not positive
    for (int64_t o = 0; o < len; o += RUN) {
        int64_t e = o + RUN < len ? o + RUN : len;
        float a = 0, b = 0;
        if (!y) {
#pragma omp simd reduction(+ : a, b)
            for (int64_t i = o; i < e; i++) {
                float d = x[i] - xs;
                a += d;
                b += d * d;
            }
        } else if (!m) {
#pragma omp simd reduction(+ : a, b)
            for (int64_t i = o; i < e; i++) {
                a += y[i];
                b += y[i] * (x[i] - xs);
            }
        } else {
#pragma omp simd reduction(+ : a, b)
            for (int64_t i = o; i < e; i++) {
                float g = keep(y[i], m[i]);
                a += g;
                b += g * (x[i] - xs);
            }
        }
        *s1 += a;
        *s2 += b;
    }
}

CLONES static void plain_affine(const float *x, const float *r, float *y, int64_t len, float a, float b,
        int relu) {
    if (r) {
#pragma omp simd
        for (int64_t i = 0; i < len; i++) {
            float v = x[i] * a + b + r[i];
            y[i] = v > 0 ? v : 0;
        }
        return;
    }
    if (relu) {
#pragma omp simd
        for (int64_t i = 0; i < len; i++) {
            float v = x[i] * a + b;
            y[i] = v > 0 ? v : 0;
        }
        return;
    }
#pragma omp simd
    for (int64_t i = 0; i < len; i++) y[i] = x[i] * a + b;
}

CLONES static void plain_bwd(const float *x, const float *dy, const float *m, float *dx, float *dr, int64_t len,
        float a, float b, float c) {
    if (dr) {
#pragma omp simd
        for (int64_t i = 0; i < len; i++) {
            float g = keep(dy[i], m[i]);
            dr[i] = g;
            dx[i] = a * g + b * x[i] + c;
        }
        return;
    }
    if (m) {
#pragma omp simd
        for (int64_t i = 0; i < len; i++) dx[i] = a * keep(dy[i], m[i]) + b * x[i] + c;
        return;
    }
#pragma omp simd
    for (int64_t i = 0; i < len; i++) dx[i] = a * dy[i] + b * x[i] + c;
}

// ---- blocked: one block of one image is hw positions × 16 channels; a
// position's 16 channels are one 64-byte vector.

typedef float v16 __attribute__((vector_size(64)));

static inline v16 ld(const float *p) {
    v16 v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline void st(float *p, v16 v) { memcpy(p, &v, sizeof v); }

typedef int v16i __attribute__((vector_size(64)));

// vkeep returns g where the ReLU output m is positive, else 0.
static inline v16 vkeep(v16 g, v16 m) {
    v16 z = {0};
    return (v16)((v16i)g & (m > z));
}

CLONES static void blk_sums(const float *x, const float *y, const float *m, int64_t hw, const float *xs,
        double *s1, double *s2) {
    v16 sh = ld(xs);
    for (int64_t o = 0; o < hw; o += RUN) {
        int64_t e = o + RUN < hw ? o + RUN : hw;
        v16 a = {0}, b = {0};
        if (!y) {
            for (int64_t i = o; i < e; i++) {
                v16 d = ld(x + i * 16) - sh;
                a += d;
                b += d * d;
            }
        } else if (!m) {
            for (int64_t i = o; i < e; i++) {
                v16 g = ld(y + i * 16);
                a += g;
                b += g * (ld(x + i * 16) - sh);
            }
        } else {
            for (int64_t i = o; i < e; i++) {
                v16 g = vkeep(ld(y + i * 16), ld(m + i * 16));
                a += g;
                b += g * (ld(x + i * 16) - sh);
            }
        }
        for (int l = 0; l < 16; l++) {
            s1[l] += a[l];
            s2[l] += b[l];
        }
    }
}

CLONES static void blk_affine(const float *x, const float *r, float *y, int64_t hw, const float *a, const float *b,
        int relu) {
    v16 va = ld(a), vb = ld(b), z = {0};
    if (r) {
        for (int64_t i = 0; i < hw; i++) {
            v16 v = ld(x + i * 16) * va + vb + ld(r + i * 16);
            st(y + i * 16, (v16)((v16i)v & (v > z)));
        }
        return;
    }
    if (relu) {
        for (int64_t i = 0; i < hw; i++) {
            v16 v = ld(x + i * 16) * va + vb;
            st(y + i * 16, (v16)((v16i)v & (v > z)));
        }
        return;
    }
    for (int64_t i = 0; i < hw; i++) st(y + i * 16, ld(x + i * 16) * va + vb);
}

CLONES static void blk_bwd(const float *x, const float *dy, const float *m, float *dx, float *dr, int64_t hw,
        const float *a, const float *b, const float *c) {
    v16 va = ld(a), vb = ld(b), vc = ld(c);
    if (dr) {
        for (int64_t i = 0; i < hw; i++) {
            v16 g = vkeep(ld(dy + i * 16), ld(m + i * 16));
            st(dr + i * 16, g);
            st(dx + i * 16, va * g + vb * ld(x + i * 16) + vc);
        }
        return;
    }
    if (m) {
        for (int64_t i = 0; i < hw; i++)
            st(dx + i * 16, va * vkeep(ld(dy + i * 16), ld(m + i * 16)) + vb * ld(x + i * 16) + vc);
        return;
    }
    for (int64_t i = 0; i < hw; i++) st(dx + i * 16, va * ld(dy + i * 16) + vb * ld(x + i * 16) + vc);
}

// sums computes per-channel s1, s2 (each c doubles) over all images: with
// y == NULL the shifted sums of x, else Σy and Σy·(x − shift).
static int sums(int64_t n, int64_t c, int64_t hw, int blocked, const float *x, const float *y, const float *m,
        const float *shift, double *s1, double *s2) {
    // One slot of partial sums per image, added up in image order: the
    // result does not depend on which thread took which image.
    double *part = partials((size_t)n * 2 * c);
    if (!part) return AK_ENOMEM;
#pragma omp parallel for schedule(dynamic, 2)
    for (int64_t img = 0; img < n; img++) {
        double *p1 = part + (size_t)img * 2 * c, *p2 = p1 + c;
        const float *xi = x + img * c * hw, *yi = y ? y + img * c * hw : NULL, *mi = m ? m + img * c * hw : NULL;
        if (blocked) {
            for (int64_t cb = 0; cb < c / 16; cb++)
                blk_sums(xi + cb * 16 * hw, yi ? yi + cb * 16 * hw : NULL, mi ? mi + cb * 16 * hw : NULL, hw,
                        shift + cb * 16, p1 + cb * 16, p2 + cb * 16);
        } else {
            for (int64_t ch = 0; ch < c; ch++)
                plain_sums(xi + ch * hw, yi ? yi + ch * hw : NULL, mi ? mi + ch * hw : NULL, hw, shift[ch],
                        p1 + ch, p2 + ch);
        }
    }
    memset(s1, 0, c * sizeof(double));
    memset(s2, 0, c * sizeof(double));
    for (int64_t t = 0; t < n; t++)
        for (int64_t ch = 0; ch < c; ch++) {
            s1[ch] += part[(size_t)t * 2 * c + ch];
            s2[ch] += part[(size_t)t * 2 * c + c + ch];
        }
    return 0;
}

// per-channel scratch: 2 double vectors then 3 float vectors of length c
static double *g_vec;
static size_t g_vec_len;

static double *vecs(int64_t c) {
    size_t need = (size_t)c * 4; // 2 doubles + 3 floats (≤ 2 doubles) per channel
    if (g_vec_len < need) {
        free(g_vec);
        g_vec = malloc(need * sizeof(double));
        g_vec_len = g_vec ? need : 0;
    }
    return g_vec;
}

// apply writes y = x·a + b per channel; with res, y = max(y + res, 0);
// else with relu, y = max(y, 0).
static void apply(int64_t n, int64_t c, int64_t hw, int blocked, const float *x, const float *res, float *y,
        const float *a, const float *b, int relu) {
#pragma omp parallel for schedule(dynamic, 2)
    for (int64_t img = 0; img < n; img++) {
        const float *xi = x + img * c * hw, *ri = res ? res + img * c * hw : NULL;
        float *yi = y + img * c * hw;
        if (blocked) {
            for (int64_t cb = 0; cb < c / 16; cb++)
                blk_affine(xi + cb * 16 * hw, ri ? ri + cb * 16 * hw : NULL, yi + cb * 16 * hw, hw, a + cb * 16,
                        b + cb * 16, relu);
        } else {
            for (int64_t ch = 0; ch < c; ch++) plain_affine(xi + ch * hw, ri ? ri + ch * hw : NULL, yi + ch * hw, hw, a[ch], b[ch], relu);
        }
    }
}

static int blocked_for(int layout, int64_t c) { return layout == AK_BLOCKED && c % 16 == 0; }

// shift_of fills shift[ch] with the first value of channel ch in image 0.
static void shift_of(int64_t c, int64_t hw, int blocked, const float *x, float *shift) {
    for (int64_t ch = 0; ch < c; ch++)
        shift[ch] = blocked ? x[(ch / 16) * 16 * hw + ch % 16] : x[ch * hw];
}

int ak_bn2_train_relu(int64_t n, int64_t c, int64_t hw, int layout, float eps, const float *x, const float *gamma,
        const float *beta, float *y, float *mean, float *var, int relu, const float *res) {
    int blk = blocked_for(layout, c);
    ak_enter();
    double *s1 = vecs(c);
    if (!s1) return AK_ENOMEM;
    double *s2 = s1 + c;
    float *shift = (float *)(s2 + c), *a = shift + c, *b = a + c;
    shift_of(c, hw, blk, x, shift);
    int r = sums(n, c, hw, blk, x, NULL, NULL, shift, s1, s2);
    if (r) return r;
    double m = (double)n * hw;
    for (int64_t ch = 0; ch < c; ch++) {
        double d = s1[ch] / m, vv = s2[ch] / m - d * d;
        if (vv < 0) vv = 0;
        double mu = shift[ch] + d, inv = 1 / sqrt(vv + eps);
        mean[ch] = (float)mu;
        var[ch] = (float)vv;
        a[ch] = (float)(gamma[ch] * inv);
        b[ch] = (float)(beta[ch] - mu * gamma[ch] * inv);
    }
    apply(n, c, hw, blk, x, res, y, a, b, relu);
    return 0;
}

int ak_bn2_infer(int64_t n, int64_t c, int64_t hw, int layout, float eps, const float *x, const float *gamma,
        const float *beta, const float *mean, const float *var, float *y) {
    int blk = blocked_for(layout, c);
    ak_enter();
    double *s1 = vecs(c);
    if (!s1) return AK_ENOMEM;
    float *a = (float *)(s1 + 2 * c), *b = a + c;
    for (int64_t ch = 0; ch < c; ch++) {
        double inv = 1 / sqrt((double)var[ch] + eps);
        a[ch] = (float)(gamma[ch] * inv);
        b[ch] = (float)(beta[ch] - (double)mean[ch] * gamma[ch] * inv);
    }
    apply(n, c, hw, blk, x, NULL, y, a, b, 0);
    return 0;
}

// ak_bn2_backward_relu is the batch-norm backward pass, for relu(bn(x))
// with output y (y == NULL: no ReLU): dy counts only where y > 0. dx may be dy. If dres
// is not NULL (y must not be), it receives dy where y > 0, else 0.
int ak_bn2_backward_relu(int64_t n, int64_t c, int64_t hw, int layout, float eps, const float *x, const float *dy,
        const float *y, const float *gamma, const float *mean, const float *var, float *dx, float *dres,
        float *dgamma, float *dbeta) {
    if (dres && !y) return AK_EINVAL;
    int blk = blocked_for(layout, c);
    ak_enter();
    double *s1 = vecs(c);
    if (!s1) return AK_ENOMEM;
    double *s2 = s1 + c;
    float *a = (float *)(s2 + c), *b = a + c, *cc = b + c;
    // Σdy and Σdy·(x − mean) with the batch mean as the shift
    int r = sums(n, c, hw, blk, x, dy, y, mean, s1, s2);
    if (r) return r;
    double m = (double)n * hw;
    for (int64_t ch = 0; ch < c; ch++) {
        double inv = 1 / sqrt((double)var[ch] + eps), g = gamma[ch];
        double db = s1[ch], dg = s2[ch] * inv;
        dbeta[ch] = (float)db;
        dgamma[ch] = (float)dg;
        double A = g * inv, B = -g * inv * inv * dg / m;
        a[ch] = (float)A;
        b[ch] = (float)B;
        cc[ch] = (float)(-A * db / m - B * mean[ch]);
    }
#pragma omp parallel for schedule(dynamic, 2)
    for (int64_t img = 0; img < n; img++) {
        const float *xi = x + img * c * hw, *dyi = dy + img * c * hw, *yi = y ? y + img * c * hw : NULL;
        float *dxi = dx + img * c * hw, *dri = dres ? dres + img * c * hw : NULL;
        if (blk) {
            for (int64_t cb = 0; cb < c / 16; cb++)
                blk_bwd(xi + cb * 16 * hw, dyi + cb * 16 * hw, yi ? yi + cb * 16 * hw : NULL, dxi + cb * 16 * hw,
                        dri ? dri + cb * 16 * hw : NULL, hw, a + cb * 16, b + cb * 16, cc + cb * 16);
        } else {
            for (int64_t ch = 0; ch < c; ch++)
                plain_bwd(xi + ch * hw, dyi + ch * hw, yi ? yi + ch * hw : NULL, dxi + ch * hw,
                        dri ? dri + ch * hw : NULL, hw, a[ch], b[ch], cc[ch]);
        }
    }
    return 0;
}
