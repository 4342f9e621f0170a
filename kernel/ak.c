// ak.c: oneDNN 2.x primitives (convolution, pooling, reorders) and OpenBLAS
// sgemm for package kernel; batch normalisation is in bn.c.
//
// Calls are serialised by the Go side (one global mutex), so the
// intermediate buffers of all primitives (reordered operands, scratchpads)
// come from one grow-only arena of slots shared by every object.
#include <stdlib.h>
#include <string.h>
#include <oneapi/dnnl/dnnl.h>
#include <cblas.h>
#include "ak.h"

extern void omp_set_num_threads(int);

static dnnl_engine_t g_eng;
static dnnl_stream_t g_strm;
static int g_threads = 1;

#define CHECK(f)                                                               \
    do {                                                                       \
        dnnl_status_t s_ = (f);                                                \
        if (s_ != dnnl_success) return (int)s_;                                \
    } while (0)
#define CHECKI(f)                                                              \
    do {                                                                       \
        int s_ = (f);                                                          \
        if (s_ != 0) return s_;                                                \
    } while (0)

int ak_init(void) {
    if (g_eng) return 0;
    CHECK(dnnl_engine_create(&g_eng, dnnl_cpu, 0));
    CHECK(dnnl_stream_create(&g_strm, g_eng, dnnl_stream_default_flags));
    return 0;
}

void ak_set_threads(int n) {
    g_threads = n;
    omp_set_num_threads(n);
    openblas_set_num_threads(n);
}

// enter is called at the start of every executing function: the OpenMP
// thread count is a per-OS-thread setting and Go may call from any thread.
void ak_enter(void) { omp_set_num_threads(g_threads); }
#define enter ak_enter

const char *ak_status_str(int s) {
    switch (s) {
    case AK_ENOMEM: return "out of memory";
    case AK_EINVAL: return "invalid argument";
    case dnnl_out_of_memory: return "oneDNN: out of memory";
    case dnnl_invalid_arguments: return "oneDNN: invalid arguments";
    case dnnl_unimplemented: return "oneDNN: unimplemented";
    case dnnl_iterator_ends: return "oneDNN: iterator ends";
    case dnnl_runtime_error: return "oneDNN: runtime error";
    case dnnl_not_required: return "oneDNN: not required";
    default: return "oneDNN: unknown error";
    }
}

// ---------------------------------------------------------------- arena

enum { SLOT_A, SLOT_B, SLOT_C, SLOT_D, SLOT_SCRATCH, NSLOTS };
static void *g_slot[NSLOTS];
static size_t g_slot_size[NSLOTS];

static void *slot(int i, size_t size) {
    if (size == 0) size = 64;
    if (g_slot_size[i] < size) {
        free(g_slot[i]);
        size_t sz = (size + 4095) & ~(size_t)4095;
        g_slot[i] = aligned_alloc(4096, sz);
        g_slot_size[i] = g_slot[i] ? sz : 0;
    }
    return g_slot[i];
}

// ---------------------------------------------------------------- ports

// A port binds a caller's buffer (user layout) to the layout a primitive
// wants (inner layout); when they differ it owns a reorder between them and
// the inner buffer lives in an arena slot.
typedef struct {
    dnnl_memory_t umem, imem;
    dnnl_primitive_t reorder, reorder_in; // reorder_in: for an output that is also read
    size_t isize;
    int slot, output;
    // Weight ports keep their reordered copy: ucopy holds the user data
    // it was made from (usize bytes), inner the reordered data; a call
    // with identical weights skips the reorder.
    int keep;
    size_t usize;
    void *ucopy, *inner;
    int valid;
} port;

static int port_init(port *p, const dnnl_memory_desc_t *umd,
        const dnnl_memory_desc_t *imd, int output, int slot_id) {
    memset(p, 0, sizeof *p);
    p->output = output;
    CHECK(dnnl_memory_create(&p->umem, umd, g_eng, DNNL_MEMORY_NONE));
    if (dnnl_memory_desc_equal(umd, imd)) {
        p->imem = p->umem;
        return 0;
    }
    CHECK(dnnl_memory_create(&p->imem, imd, g_eng, DNNL_MEMORY_NONE));
    p->isize = dnnl_memory_desc_get_size(imd);
    p->slot = slot_id;
    dnnl_primitive_desc_t rpd;
    if (output)
        CHECK(dnnl_reorder_primitive_desc_create(&rpd, imd, g_eng, umd, g_eng, NULL));
    else
        CHECK(dnnl_reorder_primitive_desc_create(&rpd, umd, g_eng, imd, g_eng, NULL));
    dnnl_status_t s = dnnl_primitive_create(&p->reorder, rpd);
    dnnl_primitive_desc_destroy(rpd);
    CHECK(s);
    if (output == 2) {
        CHECK(dnnl_reorder_primitive_desc_create(&rpd, umd, g_eng, imd, g_eng, NULL));
        s = dnnl_primitive_create(&p->reorder_in, rpd);
        dnnl_primitive_desc_destroy(rpd);
        CHECK(s);
    }
    return 0;
}

// port_keep makes p a weight port that keeps its reordered copy.
static void port_keep(port *p) {
    if (!p->reorder) return;
    p->keep = 1;
    const dnnl_memory_desc_t *umd;
    if (dnnl_memory_get_memory_desc(p->umem, &umd) == dnnl_success) p->usize = dnnl_memory_desc_get_size(umd);
    else p->keep = 0;
}

static void port_destroy(port *p) {
    free(p->ucopy);
    free(p->inner);
    if (p->reorder) dnnl_primitive_destroy(p->reorder);
    if (p->reorder_in) dnnl_primitive_destroy(p->reorder_in);
    if (p->imem && p->imem != p->umem) dnnl_memory_destroy(p->imem);
    if (p->umem) dnnl_memory_destroy(p->umem);
    memset(p, 0, sizeof *p);
}

// SMALL_REORDER is the size in bytes up to which run_reorder uses one
// thread: weight reorders (at most 147 KB in ResNet-20, three per
// convolution and step) take microseconds, less than waking the other
// OpenMP threads for a parallel region and meeting them at its barrier
// (under load, a descheduled worker made such a region cost milliseconds).
#define SMALL_REORDER (1 << 20)

static int run_reorder(dnnl_primitive_t r, dnnl_memory_t from, dnnl_memory_t to) {
    dnnl_exec_arg_t a[2] = {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}};
    const dnnl_memory_desc_t *md;
    int small = g_threads > 1 && dnnl_memory_get_memory_desc(from, &md) == dnnl_success &&
            dnnl_memory_desc_get_size(md) <= SMALL_REORDER;
    if (small) omp_set_num_threads(1);
    dnnl_status_t s = dnnl_primitive_execute(r, g_strm, 2, a);
    if (small) omp_set_num_threads(g_threads);
    CHECK(s);
    return 0;
}

// port_bind points the port at the caller's buffer ptr and, for an input
// (or an output that is also read), reorders it into the inner buffer.
static int port_bind(port *p, void *ptr) {
    CHECK(dnnl_memory_set_data_handle(p->umem, ptr));
    if (!p->reorder) return 0;
    if (p->keep && !p->output) {
        if (!p->inner) {
            p->ucopy = malloc(p->usize ? p->usize : 1);
            p->inner = aligned_alloc(4096, (p->isize + 4095) & ~(size_t)4095);
            if (!p->ucopy || !p->inner) {
                free(p->ucopy); free(p->inner);
                p->ucopy = p->inner = NULL;
                return AK_ENOMEM;
            }
        }
        CHECK(dnnl_memory_set_data_handle(p->imem, p->inner));
        if (p->valid && memcmp(p->ucopy, ptr, p->usize) == 0) return 0;
        p->valid = 0;
        CHECKI(run_reorder(p->reorder, p->umem, p->imem));
        memcpy(p->ucopy, ptr, p->usize);
        p->valid = 1;
        return 0;
    }
    void *buf = slot(p->slot, p->isize);
    if (!buf) return AK_ENOMEM;
    CHECK(dnnl_memory_set_data_handle(p->imem, buf));
    if (!p->output) return run_reorder(p->reorder, p->umem, p->imem);
    if (p->reorder_in) return run_reorder(p->reorder_in, p->umem, p->imem);
    return 0;
}

// port_finish copies an output from the inner buffer to the caller's.
static int port_finish(port *p) {
    if (p->reorder && p->output) return run_reorder(p->reorder, p->imem, p->umem);
    return 0;
}

// port_release drops the Go pointer so that no C object keeps it.
static void port_release(port *p) {
    if (p->umem) dnnl_memory_set_data_handle(p->umem, DNNL_MEMORY_NONE);
}

static const dnnl_memory_desc_t *query(dnnl_primitive_desc_t pd, dnnl_query_t what) {
    return dnnl_primitive_desc_query_md(pd, what, 0);
}

// make_prim creates the primitive of pd and records its scratchpad size.
static int make_prim(dnnl_primitive_desc_t pd, dnnl_primitive_t *prim, size_t *scratch) {
    *scratch = dnnl_memory_desc_get_size(query(pd, dnnl_query_scratchpad_md));
    CHECK(dnnl_primitive_create(prim, pd));
    return 0;
}

static int user_attr(dnnl_primitive_attr_t *attr) {
    CHECK(dnnl_primitive_attr_create(attr));
    CHECK(dnnl_primitive_attr_set_scratchpad_mode(*attr, dnnl_scratchpad_mode_user));
    return 0;
}

// exec runs prim with args plus a scratchpad from the arena.
static int exec(dnnl_primitive_t prim, dnnl_exec_arg_t *args, int nargs, size_t scratch, dnnl_memory_t smem) {
    if (smem) {
        void *buf = slot(SLOT_SCRATCH, scratch);
        if (!buf) return AK_ENOMEM;
        CHECK(dnnl_memory_set_data_handle(smem, buf));
        args[nargs].arg = DNNL_ARG_SCRATCHPAD;
        args[nargs].memory = smem;
        nargs++;
    }
    CHECK(dnnl_primitive_execute(prim, g_strm, nargs, args));
    return 0;
}

static int scratch_mem(dnnl_primitive_desc_t pd, dnnl_memory_t *m) {
    *m = NULL;
    if (dnnl_memory_desc_get_size(query(pd, dnnl_query_scratchpad_md)) == 0) return 0;
    CHECK(dnnl_memory_create(m, query(pd, dnnl_query_scratchpad_md), g_eng, DNNL_MEMORY_NONE));
    return 0;
}

static dnnl_format_tag_t act_tag(int layout, int64_t c) {
    return (layout == AK_BLOCKED && c % 16 == 0) ? dnnl_nChw16c : dnnl_nchw;
}

// ---------------------------------------------------------------- conv

struct ak_conv {
    int64_t p[12];
    int layout, post_relu, post_sum;
    int algo;            // requested (AK_ALGO_*)
    dnnl_alg_kind_t alg; // of the forward pass
    dnnl_memory_desc_t xmd, wmd, bmd, ymd, anyx, anyw, anyy;
    dnnl_dims_t strides, padl, padr;
    float *zero_bias, *bias_grad;

    dnnl_primitive_desc_t fpd;
    dnnl_primitive_t fwd;
    dnnl_memory_t fscr;
    size_t fscratch;
    port fx, fw, fb, fy;

    int have_bd;
    dnnl_primitive_t bd;
    dnnl_primitive_desc_t bdpd;
    dnnl_memory_t dscr;
    size_t dscratch;
    port ddy, dw, ddx;

    int have_bw;
    dnnl_primitive_t bw;
    dnnl_primitive_desc_t bwpd;
    dnnl_memory_t wscr;
    size_t wscratch;
    port wx, wdy, wdw, wdb;
};

enum { PASS_FWD, PASS_BWD_DATA, PASS_BWD_WEIGHTS };

// conv_alg picks the algorithm of a pass for algo (AK_ALGO_*). Under
// AK_ALGO_AUTO: Winograd F(4×4,3×3) for 3×3 stride-1 ungrouped
// convolutions with input and output channels multiples of 16, where
// oneDNN's avx512_core Winograd kernels measured faster than direct ones
// on one core (thread CPU time, N=128; direct → Winograd ms): 16ch 32×32
// fwd 7.0 → 5.3, bwd-data 5.3 → 5.4, bwd-weights 6.0 → 3.8; 32ch 16×16
// 4.8/4.9/5.4 → 2.7/2.7/2.8; 64ch 8×8 4.4/4.4/5.3 → 2.0/2.0/2.4 — except
// the forward and backward-data passes of 16-channel convolutions, which
// stay direct: with 2 threads Winograd was slower there (each call runs 3
// OpenMP parallel regions, direct 1). In a ResNet-20 `bench train` under
// load (DNNL_VERBOSE, 78 calls each, min / median ms, Winograd → direct):
// 16ch 32×32 bwd-data 7.6 / 19.5 → 2.7 / 8.3, forward 5.9 / 19.5 → 3.8 /
// 11.7, inference forward (N=256) 14.7 / 27.5 → 11.7 / 19.3; interleaved
// single-shape calls agreed, while 16ch bwd-weights and every 32/64-channel
// pass stayed faster with Winograd.
static dnnl_alg_kind_t conv_alg(const int64_t *p, int algo, int pass) {
    if (algo == AK_ALGO_DIRECT) return dnnl_convolution_direct;
    if (algo == AK_ALGO_WINOGRAD) return dnnl_convolution_winograd;
    int64_t C = p[1], K = p[4], R = p[5], S = p[6], SH = p[7], SW = p[8], G = p[11];
    if (!(R == 3 && S == 3 && SH == 1 && SW == 1 && G == 1 && C >= 16 && K >= 16 && C % 16 == 0 && K % 16 == 0))
        return dnnl_convolution_direct;
    if ((C < 32 || K < 32) && pass != PASS_BWD_WEIGHTS) return dnnl_convolution_direct;
    return dnnl_convolution_winograd;
}

// is_ref reports whether pd is a reference (unoptimised) implementation.
static int is_ref(dnnl_primitive_desc_t pd) {
    const char *s = NULL;
    if (dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &s) != dnnl_success || !s) return 1;
    return strncmp(s, "ref", 3) == 0 || strstr(s, ":ref") != NULL;
}

int ak_conv_create(ak_conv **out, const int64_t *p, int layout, int post_relu, int post_sum, int algo) {
    *out = NULL;
    CHECKI(ak_init());
    ak_conv *c = calloc(1, sizeof *c);
    if (!c) return AK_ENOMEM;
    *out = c;
    memcpy(c->p, p, sizeof c->p);
    c->layout = layout;
    c->post_relu = post_relu;
    c->post_sum = post_sum;
    c->algo = algo;
    int64_t N = p[0], C = p[1], H = p[2], W = p[3], K = p[4], R = p[5], S = p[6];
    int64_t SH = p[7], SW = p[8], PH = p[9], PW = p[10], G = p[11];
    int64_t OH = (H + 2 * PH - R) / SH + 1, OW = (W + 2 * PW - S) / SW + 1;
    c->zero_bias = calloc(K, sizeof(float));
    c->bias_grad = calloc(K, sizeof(float));
    if (!c->zero_bias || !c->bias_grad) return AK_ENOMEM;

    dnnl_dims_t xd = {N, C, H, W}, yd = {N, K, OH, OW}, bd = {K};
    CHECK(dnnl_memory_desc_init_by_tag(&c->xmd, 4, xd, dnnl_f32, act_tag(layout, C)));
    CHECK(dnnl_memory_desc_init_by_tag(&c->ymd, 4, yd, dnnl_f32, act_tag(layout, K)));
    CHECK(dnnl_memory_desc_init_by_tag(&c->bmd, 1, bd, dnnl_f32, dnnl_a));
    CHECK(dnnl_memory_desc_init_by_tag(&c->anyx, 4, xd, dnnl_f32, dnnl_format_tag_any));
    CHECK(dnnl_memory_desc_init_by_tag(&c->anyy, 4, yd, dnnl_f32, dnnl_format_tag_any));
    if (G == 1) {
        dnnl_dims_t wd = {K, C, R, S};
        CHECK(dnnl_memory_desc_init_by_tag(&c->wmd, 4, wd, dnnl_f32, dnnl_oihw));
        CHECK(dnnl_memory_desc_init_by_tag(&c->anyw, 4, wd, dnnl_f32, dnnl_format_tag_any));
    } else {
        dnnl_dims_t wd = {G, K / G, C / G, R, S};
        CHECK(dnnl_memory_desc_init_by_tag(&c->wmd, 5, wd, dnnl_f32, dnnl_goihw));
        CHECK(dnnl_memory_desc_init_by_tag(&c->anyw, 5, wd, dnnl_f32, dnnl_format_tag_any));
    }
    c->strides[0] = SH; c->strides[1] = SW;
    c->padl[0] = PH; c->padl[1] = PW;
    c->padr[0] = PH; c->padr[1] = PW;

    c->alg = conv_alg(p, algo, PASS_FWD);
    dnnl_primitive_attr_t attr;
    CHECKI(user_attr(&attr));
    if (post_relu || post_sum) {
        dnnl_post_ops_t po;
        CHECK(dnnl_post_ops_create(&po));
        if (post_sum) CHECK(dnnl_post_ops_append_sum(po, 1.f));
        if (post_relu) CHECK(dnnl_post_ops_append_eltwise(po, 1.f, dnnl_eltwise_relu, 0.f, 0.f));
        CHECK(dnnl_primitive_attr_set_post_ops(attr, po));
        dnnl_post_ops_destroy(po);
    }
    dnnl_status_t s;
    // With blocked activations, first ask for the caller's layouts: left
    // free ("any"), oneDNN 2.6 picks NHWC brgconv kernels for some
    // inference convolutions and the activations get reordered twice per
    // call. Fall back to "any" if that gives no optimised kernel.
    int fixed = layout == AK_BLOCKED;
    for (;;) {
        dnnl_convolution_desc_t cd;
        s = dnnl_convolution_forward_desc_init(&cd, post_relu ? dnnl_forward_inference : dnnl_forward_training,
                c->alg, fixed ? &c->xmd : &c->anyx, &c->anyw, &c->bmd, fixed ? &c->ymd : &c->anyy,
                c->strides, c->padl, c->padr);
        if (s == dnnl_success) s = dnnl_primitive_desc_create(&c->fpd, &cd, attr, g_eng, NULL);
        if (fixed && (s == dnnl_unimplemented || (s == dnnl_success && is_ref(c->fpd)))) {
            if (s == dnnl_success) dnnl_primitive_desc_destroy(c->fpd);
            c->fpd = NULL;
            fixed = 0;
            continue;
        }
        // Winograd chosen by the heuristic but not available: use direct.
        if (s == dnnl_unimplemented && algo == AK_ALGO_AUTO && c->alg == dnnl_convolution_winograd) {
            c->alg = dnnl_convolution_direct;
            fixed = layout == AK_BLOCKED;
            continue;
        }
        break;
    }
    dnnl_primitive_attr_destroy(attr);
    CHECK(s);
    CHECKI(make_prim(c->fpd, &c->fwd, &c->fscratch));
    CHECKI(scratch_mem(c->fpd, &c->fscr));
    CHECKI(port_init(&c->fx, &c->xmd, query(c->fpd, dnnl_query_src_md), 0, SLOT_A));
    CHECKI(port_init(&c->fw, &c->wmd, query(c->fpd, dnnl_query_weights_md), 0, SLOT_B));
    port_keep(&c->fw);
    CHECKI(port_init(&c->fb, &c->bmd, &c->bmd, 0, SLOT_D));
    CHECKI(port_init(&c->fy, &c->ymd, query(c->fpd, dnnl_query_dst_md), post_sum ? 2 : 1, SLOT_C));
    return 0;
}

static int conv_bd_run(ak_conv *c, void *dy, void *w, void *dx);

static int conv_init_bd(ak_conv *c) {
    if (c->have_bd) return 0;
    dnnl_primitive_attr_t attr;
    CHECKI(user_attr(&attr));
    dnnl_status_t s = dnnl_unimplemented;
    dnnl_alg_kind_t algs[2] = {conv_alg(c->p, c->algo, PASS_BWD_DATA), dnnl_convolution_direct};
    for (int i = 0; i < 2 && s == dnnl_unimplemented; i++) {
        dnnl_convolution_desc_t cd;
        s = dnnl_convolution_backward_data_desc_init(&cd, algs[i], &c->anyx, &c->anyw, &c->anyy,
                c->strides, c->padl, c->padr);
        if (s == dnnl_success) s = dnnl_primitive_desc_create(&c->bdpd, &cd, attr, g_eng, c->fpd);
    }
    dnnl_primitive_attr_destroy(attr);
    CHECK(s);
    CHECKI(make_prim(c->bdpd, &c->bd, &c->dscratch));
    CHECKI(scratch_mem(c->bdpd, &c->dscr));
    CHECKI(port_init(&c->ddy, &c->ymd, query(c->bdpd, dnnl_query_diff_dst_md), 0, SLOT_A));
    CHECKI(port_init(&c->dw, &c->wmd, query(c->bdpd, dnnl_query_weights_md), 0, SLOT_B));
    port_keep(&c->dw);
    CHECKI(port_init(&c->ddx, &c->xmd, query(c->bdpd, dnnl_query_diff_src_md), 1, SLOT_C));
    c->have_bd = 1;
    return 0;
}

static int conv_init_bw(ak_conv *c) {
    if (c->have_bw) return 0;
    dnnl_primitive_attr_t attr;
    CHECKI(user_attr(&attr));
    dnnl_status_t s = dnnl_unimplemented;
    dnnl_alg_kind_t algs[2] = {conv_alg(c->p, c->algo, PASS_BWD_WEIGHTS), dnnl_convolution_direct};
    for (int i = 0; i < 2 && s == dnnl_unimplemented; i++) {
        dnnl_convolution_desc_t cd;
        s = dnnl_convolution_backward_weights_desc_init(&cd, algs[i], &c->anyx, &c->anyw, &c->bmd, &c->anyy,
                c->strides, c->padl, c->padr);
        if (s == dnnl_success) s = dnnl_primitive_desc_create(&c->bwpd, &cd, attr, g_eng, c->fpd);
    }
    dnnl_primitive_attr_destroy(attr);
    CHECK(s);
    CHECKI(make_prim(c->bwpd, &c->bw, &c->wscratch));
    CHECKI(scratch_mem(c->bwpd, &c->wscr));
    // Slots chosen so that ak_conv_backward can reuse the reordered dy of
    // the backward-data pass (slot A) after it finished with B and C.
    CHECKI(port_init(&c->wx, &c->xmd, query(c->bwpd, dnnl_query_src_md), 0, SLOT_C));
    CHECKI(port_init(&c->wdy, &c->ymd, query(c->bwpd, dnnl_query_diff_dst_md), 0, SLOT_A));
    CHECKI(port_init(&c->wdw, &c->wmd, query(c->bwpd, dnnl_query_diff_weights_md), 1, SLOT_B));
    CHECKI(port_init(&c->wdb, &c->bmd, &c->bmd, 1, SLOT_D));
    c->have_bw = 1;
    return 0;
}

int ak_conv_forward(ak_conv *c, void *x, void *w, void *b, void *y) {
    enter();
    int r = 0;
    if ((r = port_bind(&c->fx, x)) || (r = port_bind(&c->fw, w)) ||
            (r = port_bind(&c->fb, b ? b : (void *)c->zero_bias)) || (r = port_bind(&c->fy, y)))
        goto done;
    dnnl_exec_arg_t a[5] = {{DNNL_ARG_SRC, c->fx.imem}, {DNNL_ARG_WEIGHTS, c->fw.imem},
            {DNNL_ARG_BIAS, c->fb.imem}, {DNNL_ARG_DST, c->fy.imem}};
    if ((r = exec(c->fwd, a, 4, c->fscratch, c->fscr))) goto done;
    r = port_finish(&c->fy);
done:
    port_release(&c->fx); port_release(&c->fw); port_release(&c->fb); port_release(&c->fy);
    return r;
}

int ak_conv_backward_data(ak_conv *c, void *dy, void *w, void *dx) {
    if (c->post_relu) return AK_EINVAL;
    enter();
    int r;
    if ((r = conv_init_bd(c))) return r;
    return conv_bd_run(c, dy, w, dx);
}

// port_bind_reuse binds p to ptr like port_bind, but if p's inner buffer
// would be an identical reorder of the same data that prev already holds in
// the same slot, it only points p at it.
static int port_bind_reuse(port *p, void *ptr, port *prev) {
    if (!prev || !p->reorder || !prev->reorder || p->slot != prev->slot)
        return port_bind(p, ptr);
    const dnnl_memory_desc_t *a, *b;
    CHECK(dnnl_memory_get_memory_desc(p->imem, &a));
    CHECK(dnnl_memory_get_memory_desc(prev->imem, &b));
    if (!dnnl_memory_desc_equal(a, b)) return port_bind(p, ptr);
    CHECK(dnnl_memory_set_data_handle(p->umem, ptr));
    void *buf = slot(p->slot, p->isize);
    if (!buf) return AK_ENOMEM;
    CHECK(dnnl_memory_set_data_handle(p->imem, buf));
    return 0;
}

static int conv_bw_run(ak_conv *c, void *x, void *dy, void *dw, void *db, port *dy_prev) {
    int r;
    if ((r = port_bind(&c->wx, x)) || (r = port_bind_reuse(&c->wdy, dy, dy_prev)) || (r = port_bind(&c->wdw, dw)) ||
            (r = port_bind(&c->wdb, db ? db : (void *)c->bias_grad)))
        goto done;
    dnnl_exec_arg_t a[5] = {{DNNL_ARG_SRC, c->wx.imem}, {DNNL_ARG_DIFF_DST, c->wdy.imem},
            {DNNL_ARG_DIFF_WEIGHTS, c->wdw.imem}, {DNNL_ARG_DIFF_BIAS, c->wdb.imem}};
    if ((r = exec(c->bw, a, 4, c->wscratch, c->wscr))) goto done;
    r = port_finish(&c->wdw);
done:
    port_release(&c->wx); port_release(&c->wdy); port_release(&c->wdw); port_release(&c->wdb);
    return r;
}

int ak_conv_backward_weights(ak_conv *c, void *x, void *dy, void *dw, void *db) {
    if (c->post_relu) return AK_EINVAL;
    enter();
    int r;
    if ((r = conv_init_bw(c))) return r;
    return conv_bw_run(c, x, dy, dw, db, NULL);
}

static int conv_bd_run(ak_conv *c, void *dy, void *w, void *dx) {
    int r;
    if ((r = port_bind(&c->ddy, dy)) || (r = port_bind(&c->dw, w)) || (r = port_bind(&c->ddx, dx)))
        goto done;
    dnnl_exec_arg_t a[4] = {{DNNL_ARG_DIFF_DST, c->ddy.imem}, {DNNL_ARG_WEIGHTS, c->dw.imem},
            {DNNL_ARG_DIFF_SRC, c->ddx.imem}};
    if ((r = exec(c->bd, a, 3, c->dscratch, c->dscr))) goto done;
    r = port_finish(&c->ddx);
done:
    port_release(&c->ddy); port_release(&c->dw); port_release(&c->ddx);
    return r;
}

int ak_conv_backward(ak_conv *c, void *x, void *dy, void *w, void *dx, void *dw, void *db) {
    if (c->post_relu) return AK_EINVAL;
    enter();
    int r;
    if (dx && (r = conv_init_bd(c))) return r;
    if (dw && (r = conv_init_bw(c))) return r;
    if (dx && (r = conv_bd_run(c, dy, w, dx))) return r;
    if (dw) return conv_bw_run(c, x, dy, dw, db, dx ? &c->ddy : NULL);
    return 0;
}

const char *ak_conv_impl(ak_conv *c, int which) {
    const char *s = NULL;
    dnnl_primitive_desc_t pd = which == 0 ? c->fpd : which == 1 ? c->bdpd : c->bwpd;
    if (!pd) return "";
    if (dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &s) != dnnl_success || !s) return "";
    return s;
}

void ak_conv_destroy(ak_conv *c) {
    if (!c) return;
    port_destroy(&c->fx); port_destroy(&c->fw); port_destroy(&c->fb); port_destroy(&c->fy);
    port_destroy(&c->ddy); port_destroy(&c->dw); port_destroy(&c->ddx);
    port_destroy(&c->wx); port_destroy(&c->wdy); port_destroy(&c->wdw); port_destroy(&c->wdb);
    if (c->fwd) dnnl_primitive_destroy(c->fwd);
    if (c->bd) dnnl_primitive_destroy(c->bd);
    if (c->bw) dnnl_primitive_destroy(c->bw);
    if (c->fpd) dnnl_primitive_desc_destroy(c->fpd);
    if (c->bdpd) dnnl_primitive_desc_destroy(c->bdpd);
    if (c->bwpd) dnnl_primitive_desc_destroy(c->bwpd);
    if (c->fscr) dnnl_memory_destroy(c->fscr);
    if (c->dscr) dnnl_memory_destroy(c->dscr);
    if (c->wscr) dnnl_memory_destroy(c->wscr);
    free(c->zero_bias);
    free(c->bias_grad);
    free(c);
}

// ---------------------------------------------------------------- helpers

static int mem(dnnl_memory_t *m, const dnnl_memory_desc_t *md) {
    CHECK(dnnl_memory_create(m, md, g_eng, DNNL_MEMORY_NONE));
    return 0;
}

static int set(dnnl_memory_t m, void *p) {
    CHECK(dnnl_memory_set_data_handle(m, p));
    return 0;
}

// ---------------------------------------------------------------- pooling

struct ak_pool {
    int alg;
    dnnl_memory_desc_t xmd, ymd;
    dnnl_primitive_desc_t fpd, ipd, bpd;
    dnnl_primitive_t fwd, inf, bw;
    size_t fscratch, iscratch, bscratch, wsize;
    dnnl_memory_t fscr, iscr, bscr, x, y, dx, dy, ws;
};

int ak_pool_create(ak_pool **out, const int64_t *p, int alg, int layout) {
    *out = NULL;
    CHECKI(ak_init());
    ak_pool *pl = calloc(1, sizeof *pl);
    if (!pl) return AK_ENOMEM;
    *out = pl;
    pl->alg = alg;
    int64_t N = p[0], C = p[1], H = p[2], W = p[3], KH = p[4], KW = p[5], SH = p[6], SW = p[7], PH = p[8], PW = p[9];
    int64_t OH = (H + 2 * PH - KH) / SH + 1, OW = (W + 2 * PW - KW) / SW + 1;
    dnnl_dims_t xd = {N, C, H, W}, yd = {N, C, OH, OW}, st = {SH, SW}, ke = {KH, KW}, pd = {PH, PW}, dil = {0, 0};
    CHECK(dnnl_memory_desc_init_by_tag(&pl->xmd, 4, xd, dnnl_f32, act_tag(layout, C)));
    CHECK(dnnl_memory_desc_init_by_tag(&pl->ymd, 4, yd, dnnl_f32, act_tag(layout, C)));
    dnnl_alg_kind_t a = alg == 0 ? dnnl_pooling_max : alg == 1 ? dnnl_pooling_avg_include_padding : dnnl_pooling_avg_exclude_padding;
    dnnl_pooling_v2_desc_t d;
    dnnl_primitive_attr_t attr;
    CHECKI(user_attr(&attr));
    dnnl_status_t s = dnnl_pooling_v2_forward_desc_init(&d, dnnl_forward_training, a, &pl->xmd, &pl->ymd, st, ke, dil, pd, pd);
    if (s == dnnl_success) s = dnnl_primitive_desc_create(&pl->fpd, &d, attr, g_eng, NULL);
    if (s == dnnl_success)
        s = dnnl_pooling_v2_forward_desc_init(&d, dnnl_forward_inference, a, &pl->xmd, &pl->ymd, st, ke, dil, pd, pd);
    if (s == dnnl_success) s = dnnl_primitive_desc_create(&pl->ipd, &d, attr, g_eng, NULL);
    if (s == dnnl_success) s = dnnl_pooling_v2_backward_desc_init(&d, a, &pl->xmd, &pl->ymd, st, ke, dil, pd, pd);
    if (s == dnnl_success) s = dnnl_primitive_desc_create(&pl->bpd, &d, attr, g_eng, pl->fpd);
    dnnl_primitive_attr_destroy(attr);
    CHECK(s);
    CHECKI(make_prim(pl->fpd, &pl->fwd, &pl->fscratch));
    CHECKI(make_prim(pl->ipd, &pl->inf, &pl->iscratch));
    CHECKI(make_prim(pl->bpd, &pl->bw, &pl->bscratch));
    CHECKI(scratch_mem(pl->fpd, &pl->fscr));
    CHECKI(scratch_mem(pl->ipd, &pl->iscr));
    CHECKI(scratch_mem(pl->bpd, &pl->bscr));
    CHECKI(mem(&pl->x, &pl->xmd));
    CHECKI(mem(&pl->dx, &pl->xmd));
    CHECKI(mem(&pl->y, &pl->ymd));
    CHECKI(mem(&pl->dy, &pl->ymd));
    const dnnl_memory_desc_t *wmd = query(pl->fpd, dnnl_query_workspace_md);
    pl->wsize = wmd ? dnnl_memory_desc_get_size(wmd) : 0;
    if (pl->wsize) CHECKI(mem(&pl->ws, wmd));
    return 0;
}

size_t ak_pool_workspace_size(ak_pool *pl) { return pl->wsize; }

static void pool_release(ak_pool *pl) {
    dnnl_memory_t ms[] = {pl->x, pl->y, pl->dx, pl->dy, pl->ws};
    for (int i = 0; i < 5; i++)
        if (ms[i]) dnnl_memory_set_data_handle(ms[i], DNNL_MEMORY_NONE);
}

int ak_pool_forward(ak_pool *pl, void *x, void *y, void *ws) {
    enter();
    int r;
    if ((r = set(pl->x, x)) || (r = set(pl->y, y))) goto done;
    dnnl_exec_arg_t a[4] = {{DNNL_ARG_SRC, pl->x}, {DNNL_ARG_DST, pl->y}};
    if (ws && pl->wsize) {
        if ((r = set(pl->ws, ws))) goto done;
        a[2].arg = DNNL_ARG_WORKSPACE;
        a[2].memory = pl->ws;
        r = exec(pl->fwd, a, 3, pl->fscratch, pl->fscr);
    } else if (ws) {
        r = exec(pl->fwd, a, 2, pl->fscratch, pl->fscr);
    } else {
        r = exec(pl->inf, a, 2, pl->iscratch, pl->iscr);
    }
done:
    pool_release(pl);
    return r;
}

int ak_pool_backward(ak_pool *pl, void *dy, void *ws, void *dx) {
    enter();
    int r;
    if ((r = set(pl->dy, dy)) || (r = set(pl->dx, dx))) goto done;
    dnnl_exec_arg_t a[4] = {{DNNL_ARG_DIFF_DST, pl->dy}, {DNNL_ARG_DIFF_SRC, pl->dx}};
    int n = 2;
    if (pl->wsize) {
        if (!ws) { r = AK_EINVAL; goto done; }
        if ((r = set(pl->ws, ws))) goto done;
        a[2].arg = DNNL_ARG_WORKSPACE;
        a[2].memory = pl->ws;
        n = 3;
    }
    r = exec(pl->bw, a, n, pl->bscratch, pl->bscr);
done:
    pool_release(pl);
    return r;
}

void ak_pool_destroy(ak_pool *pl) {
    if (!pl) return;
    dnnl_memory_t ms[] = {pl->x, pl->y, pl->dx, pl->dy, pl->ws, pl->fscr, pl->iscr, pl->bscr};
    for (int i = 0; i < 8; i++)
        if (ms[i]) dnnl_memory_destroy(ms[i]);
    dnnl_primitive_t ps[] = {pl->fwd, pl->inf, pl->bw};
    for (int i = 0; i < 3; i++)
        if (ps[i]) dnnl_primitive_destroy(ps[i]);
    dnnl_primitive_desc_t pds[] = {pl->fpd, pl->ipd, pl->bpd};
    for (int i = 0; i < 3; i++)
        if (pds[i]) dnnl_primitive_desc_destroy(pds[i]);
    free(pl);
}

// ---------------------------------------------------------------- reorders

struct ak_reorder {
    dnnl_primitive_t r;
    dnnl_memory_t src, dst;
};

int ak_reorder_create(ak_reorder **out, int64_t n, int64_t c, int64_t h, int64_t w, int to_blocked) {
    *out = NULL;
    CHECKI(ak_init());
    ak_reorder *r = calloc(1, sizeof *r);
    if (!r) return AK_ENOMEM;
    *out = r;
    dnnl_dims_t d = {n, c, h, w};
    dnnl_memory_desc_t plain, blocked;
    CHECK(dnnl_memory_desc_init_by_tag(&plain, 4, d, dnnl_f32, dnnl_nchw));
    CHECK(dnnl_memory_desc_init_by_tag(&blocked, 4, d, dnnl_f32, act_tag(AK_BLOCKED, c)));
    const dnnl_memory_desc_t *s = to_blocked ? &plain : &blocked, *t = to_blocked ? &blocked : &plain;
    dnnl_primitive_desc_t pd;
    CHECK(dnnl_reorder_primitive_desc_create(&pd, s, g_eng, t, g_eng, NULL));
    dnnl_status_t st = dnnl_primitive_create(&r->r, pd);
    dnnl_primitive_desc_destroy(pd);
    CHECK(st);
    CHECKI(mem(&r->src, s));
    CHECKI(mem(&r->dst, t));
    return 0;
}

int ak_reorder_run(ak_reorder *r, void *src, void *dst) {
    enter();
    int st;
    if ((st = set(r->src, src)) || (st = set(r->dst, dst))) goto done;
    st = run_reorder(r->r, r->src, r->dst);
done:
    dnnl_memory_set_data_handle(r->src, DNNL_MEMORY_NONE);
    dnnl_memory_set_data_handle(r->dst, DNNL_MEMORY_NONE);
    return st;
}

void ak_reorder_destroy(ak_reorder *r) {
    if (!r) return;
    if (r->r) dnnl_primitive_destroy(r->r);
    if (r->src) dnnl_memory_destroy(r->src);
    if (r->dst) dnnl_memory_destroy(r->dst);
    free(r);
}

// ---------------------------------------------------------------- gemm

void ak_sgemm(int ta, int tb, int m, int n, int k, float alpha, const float *a, int lda,
              const float *b, int ldb, float beta, float *c, int ldc) {
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
            m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
