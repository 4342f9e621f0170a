// convdt.h: see convdt.c.
#ifndef CONVDT_H
#define CONVDT_H
#include <stdint.h>

#define CD_ENOMEM 1000
#define CD_EINVAL 1001

typedef struct cd_conv cd_conv;
// p: N C H W K R S stride pad (square). bf16: the inputs of every pass in
// bf16, outputs and bias f32. The algorithm is direct (oneDNN has no bf16
// Winograd).
int cd_create(cd_conv **out, const int64_t *p, int bf16);
// which: 0 forward, 1 backward-data, 2 backward-weights, 3 the f32 → bf16
// reorder of x, 4 that of dy (bf16 only). Times one execution.
int cd_run(cd_conv *c, int which, int threads, double *cpu, double *wall);
const char *cd_impl(cd_conv *c, int which);
void cd_destroy(cd_conv *c);
#endif
