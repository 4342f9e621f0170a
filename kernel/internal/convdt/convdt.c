// convdt.c: oneDNN convolutions of one shape in f32 or bf16, timed pass by
// pass in process CPU time and wall time, to decide whether bf16 training
// pays on this CPU (see package doc).
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <oneapi/dnnl/dnnl.h>
#include "convdt.h"

extern void omp_set_num_threads(int);

static dnnl_engine_t eng;
static dnnl_stream_t strm;

#define CHECK(f)                                                               \
    do {                                                                       \
        dnnl_status_t s_ = (f);                                                \
        if (s_ != dnnl_success) return (int)s_;                                \
    } while (0)

// A pass: its primitive and the memories of its arguments.
typedef struct {
    dnnl_primitive_desc_t pd;
    dnnl_primitive_t prim;
    int nargs;
    dnnl_exec_arg_t args[6];
} pass;

// A reorder of an f32 activation (nChw16c) into the layout and type a
// bf16 primitive reads: the conversion a bf16 step pays per activation.
typedef struct {
    dnnl_primitive_t prim;
    dnnl_exec_arg_t args[2];
} conv_reorder;

struct cd_conv {
    pass p[3];
    conv_reorder rx, rdy;
    int bf16;
};

static unsigned rng_state = 12345;

static float frand(void) {
    rng_state = rng_state * 1664525u + 1013904223u;
    return ((rng_state >> 8) / 16777216.0f) * 2 - 1;
}

// fill writes random values in [-1, 1) into every element of m (padding
// included; the shapes used have none).
static int fill(dnnl_memory_t m) {
    const dnnl_memory_desc_t *md;
    CHECK(dnnl_memory_get_memory_desc(m, &md));
    void *h;
    CHECK(dnnl_memory_get_data_handle(m, &h));
    size_t size = dnnl_memory_desc_get_size(md);
    if (md->data_type == dnnl_bf16) {
        uint16_t *q = h;
        for (size_t i = 0; i < size / 2; i++) {
            float f = frand();
            uint32_t u;
            memcpy(&u, &f, 4);
            q[i] = (uint16_t)(u >> 16);
        }
    } else {
        float *q = h;
        for (size_t i = 0; i < size / 4; i++) q[i] = frand();
    }
    return 0;
}

static int newmem(dnnl_memory_t *m, const dnnl_memory_desc_t *md) {
    CHECK(dnnl_memory_create(m, md, eng, DNNL_MEMORY_ALLOCATE));
    return fill(*m);
}

static const dnnl_memory_desc_t *q(dnnl_primitive_desc_t pd, dnnl_query_t what) {
    return dnnl_primitive_desc_query_md(pd, what, 0);
}

// bind creates the pass's primitive and a memory for each argument, in the
// layout the primitive chose: args[i] is described by the query what[i] at
// index idx[i] (the bias is the second weights descriptor).
static int bind(pass *ps, const int *args, const dnnl_query_t *what, const int *idx, int n) {
    CHECK(dnnl_primitive_create(&ps->prim, ps->pd));
    ps->nargs = n;
    for (int i = 0; i < n; i++) {
        ps->args[i].arg = args[i];
        int s = newmem(&ps->args[i].memory, dnnl_primitive_desc_query_md(ps->pd, what[i], idx[i]));
        if (s) return s;
    }
    return 0;
}

static int make_reorder(conv_reorder *r, const dnnl_memory_desc_t *to, int64_t n, int64_t c, int64_t h, int64_t w) {
    dnnl_dims_t d = {n, c, h, w};
    dnnl_memory_desc_t from;
    CHECK(dnnl_memory_desc_init_by_tag(&from, 4, d, dnnl_f32, dnnl_nChw16c));
    dnnl_primitive_desc_t pd;
    CHECK(dnnl_reorder_primitive_desc_create(&pd, &from, eng, to, eng, NULL));
    dnnl_status_t s = dnnl_primitive_create(&r->prim, pd);
    dnnl_primitive_desc_destroy(pd);
    CHECK(s);
    r->args[0].arg = DNNL_ARG_FROM;
    r->args[1].arg = DNNL_ARG_TO;
    int e = newmem(&r->args[0].memory, &from);
    if (e) return e;
    return newmem(&r->args[1].memory, to);
}

int cd_create(cd_conv **out, const int64_t *p, int bf16) {
    if (!eng) {
        CHECK(dnnl_engine_create(&eng, dnnl_cpu, 0));
        CHECK(dnnl_stream_create(&strm, eng, dnnl_stream_default_flags));
    }
    cd_conv *c = calloc(1, sizeof *c);
    if (!c) return CD_ENOMEM;
    *out = c;
    c->bf16 = bf16;
    int64_t N = p[0], C = p[1], H = p[2], W = p[3], K = p[4], R = p[5], S = p[6], SH = p[7], PH = p[8];
    int64_t OH = (H + 2 * PH - R) / SH + 1, OW = (W + 2 * PH - S) / SH + 1;
    dnnl_data_type_t lo = bf16 ? dnnl_bf16 : dnnl_f32;
    dnnl_dims_t xd = {N, C, H, W}, yd = {N, K, OH, OW}, wd = {K, C, R, S}, bd = {K};
    dnnl_dims_t st = {SH, SH}, pad = {PH, PH};
    // Inputs of each pass in the low precision; outputs (y, dx, dw) and
    // the bias in f32: batch norm, the masked activations and the master
    // weights stay f32.
    dnnl_memory_desc_t xlo, wlo, ylo, xf, yf, wf, bf;
    CHECK(dnnl_memory_desc_init_by_tag(&xlo, 4, xd, lo, dnnl_format_tag_any));
    CHECK(dnnl_memory_desc_init_by_tag(&wlo, 4, wd, lo, dnnl_format_tag_any));
    CHECK(dnnl_memory_desc_init_by_tag(&ylo, 4, yd, lo, dnnl_format_tag_any));
    CHECK(dnnl_memory_desc_init_by_tag(&xf, 4, xd, dnnl_f32, dnnl_format_tag_any));
    CHECK(dnnl_memory_desc_init_by_tag(&yf, 4, yd, dnnl_f32, dnnl_format_tag_any));
    CHECK(dnnl_memory_desc_init_by_tag(&wf, 4, wd, dnnl_f32, dnnl_format_tag_any));
    CHECK(dnnl_memory_desc_init_by_tag(&bf, 1, bd, dnnl_f32, dnnl_a));
    dnnl_alg_kind_t alg = dnnl_convolution_direct;
    dnnl_convolution_desc_t cd;
    CHECK(dnnl_convolution_forward_desc_init(&cd, dnnl_forward_training, alg, &xlo, &wlo, &bf, &yf, st, pad, pad));
    CHECK(dnnl_primitive_desc_create(&c->p[0].pd, &cd, NULL, eng, NULL));
    int fa[] = {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_BIAS, DNNL_ARG_DST};
    dnnl_query_t fq[] = {dnnl_query_src_md, dnnl_query_weights_md, dnnl_query_weights_md, dnnl_query_dst_md};
    int fi[] = {0, 0, 1, 0};
    int s = bind(&c->p[0], fa, fq, fi, 4);
    if (s) return s;
    CHECK(dnnl_convolution_backward_data_desc_init(&cd, alg, &xf, &wlo, &ylo, st, pad, pad));
    CHECK(dnnl_primitive_desc_create(&c->p[1].pd, &cd, NULL, eng, c->p[0].pd));
    int da[] = {DNNL_ARG_DIFF_DST, DNNL_ARG_WEIGHTS, DNNL_ARG_DIFF_SRC};
    dnnl_query_t dq[] = {dnnl_query_diff_dst_md, dnnl_query_weights_md, dnnl_query_diff_src_md};
    int di[] = {0, 0, 0};
    s = bind(&c->p[1], da, dq, di, 3);
    if (s) return s;
    CHECK(dnnl_convolution_backward_weights_desc_init(&cd, alg, &xlo, &wf, &bf, &ylo, st, pad, pad));
    CHECK(dnnl_primitive_desc_create(&c->p[2].pd, &cd, NULL, eng, c->p[0].pd));
    int wa[] = {DNNL_ARG_SRC, DNNL_ARG_DIFF_DST, DNNL_ARG_DIFF_WEIGHTS, DNNL_ARG_DIFF_BIAS};
    dnnl_query_t wq[] = {dnnl_query_src_md, dnnl_query_diff_dst_md, dnnl_query_diff_weights_md, dnnl_query_diff_weights_md};
    int wi[] = {0, 0, 0, 1};
    s = bind(&c->p[2], wa, wq, wi, 4);
    if (s) return s;
    if (bf16) {
        s = make_reorder(&c->rx, q(c->p[0].pd, dnnl_query_src_md), N, C, H, W);
        if (s) return s;
        s = make_reorder(&c->rdy, q(c->p[1].pd, dnnl_query_diff_dst_md), N, K, OH, OW);
        if (s) return s;
    }
    return 0;
}

static double now(clockid_t id) {
    struct timespec t;
    clock_gettime(id, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

int cd_run(cd_conv *c, int which, int threads, double *cpu, double *wall) {
    omp_set_num_threads(threads);
    double c0 = now(CLOCK_PROCESS_CPUTIME_ID), w0 = now(CLOCK_MONOTONIC);
    dnnl_status_t s;
    if (which < 3) {
        s = dnnl_primitive_execute(c->p[which].prim, strm, c->p[which].nargs, c->p[which].args);
    } else {
        conv_reorder *r = which == 3 ? &c->rx : &c->rdy;
        if (!r->prim) return CD_EINVAL;
        s = dnnl_primitive_execute(r->prim, strm, 2, r->args);
    }
    CHECK(s);
    *cpu = now(CLOCK_PROCESS_CPUTIME_ID) - c0;
    *wall = now(CLOCK_MONOTONIC) - w0;
    return 0;
}

const char *cd_impl(cd_conv *c, int which) {
    const char *s = NULL;
    if (dnnl_primitive_desc_query(c->p[which].pd, dnnl_query_impl_info_str, 0, &s) != dnnl_success || !s) return "";
    return s;
}

void cd_destroy(cd_conv *c) {
    if (!c) return;
    for (int i = 0; i < 3; i++) {
        for (int j = 0; j < c->p[i].nargs; j++)
            if (c->p[i].args[j].memory) dnnl_memory_destroy(c->p[i].args[j].memory);
        if (c->p[i].prim) dnnl_primitive_destroy(c->p[i].prim);
        if (c->p[i].pd) dnnl_primitive_desc_destroy(c->p[i].pd);
    }
    conv_reorder *rs[] = {&c->rx, &c->rdy};
    for (int i = 0; i < 2; i++) {
        if (rs[i]->prim) dnnl_primitive_destroy(rs[i]->prim);
        for (int j = 0; j < 2; j++)
            if (rs[i]->args[j].memory) dnnl_memory_destroy(rs[i]->args[j].memory);
    }
    free(c);
}
