// Fixtures for the legacy formats from llama.cpp's real x86-64 CPU code: the activation
// quantizers (`from_float` of Q8_0 / Q8_1: the AVX2 quantize_row_q8_0 / _q8_1), the dot products
// (`vec_dot` of Q4_0 Q4_1 Q5_0 Q5_1 Q8_0: the AVX2 ggml_vec_dot_*), and a multi-token
// ggml_mul_mat (f32 activations; llama.cpp quantizes them and runs llamafile's tinyBLAS for
// Q4_0/Q5_0/Q8_0 or the vec_dot for Q4_1/Q5_1). Linked against libggml*.so as built with
// GGML_NATIVE=ON (AVX2, FMA, F16C) and GGML_LLAMAFILE=ON. See README.md for the command.
//
// Every input comes from a fixed-seed splitmix64, so the files are reproducible.
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ggml.h"
#include "ggml-cpu.h"

static uint64_t state = 0x5eed1e6ac7ULL;
static uint64_t next_u64(void) {
    uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}
static float unit(void) { return (float)((double)(next_u64() >> 11) / 9007199254740992.0) * 2.0f - 1.0f; }
static uint32_t below(uint32_t n) { return (uint32_t)(next_u64() % n); }

static void write_file(const char *dir, const char *name, const void *p, size_t n) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n) { perror(path); exit(1); }
    fclose(f);
}

static float from_bits(uint32_t b) { float f; memcpy(&f, &b, 4); return f; }

// One block of 32 activation values of kind `k` (see README.md).
static void act_block(float *x, int k) {
    float s = ldexpf(1.0f, (int)below(24) - 12);
    for (int i = 0; i < 32; i++) x[i] = unit() * s;
    switch (k) {
    case 0: break;                                           // plain
    case 1: x[below(32)] = unit() * 3000.0f; break;          // one outlier
    case 2: for (int i = 0; i < 32; i++) x[i] = 0.0f; break; // zeros
    case 3: // amax 127, values on halves: x*127/amax ties -> half-even vs away
        for (int i = 0; i < 32; i++) x[i] = (float)((int)below(254) - 127) + 0.5f;
        x[0] = 127.0f; break;
    case 4: // amax 63.5 (id = 2): values on quarter steps give ties
        for (int i = 0; i < 32; i++) x[i] = 0.25f * (float)((int)below(509) - 254);
        x[5] = -63.5f; break;
    case 5: // subnormal block: 127/amax overflows to inf
        for (int i = 0; i < 32; i++) x[i] = from_bits(below(1u << 12)) * (below(2) ? 1.0f : -1.0f);
        break;
    case 6: // huge values
        for (int i = 0; i < 32; i++) x[i] = unit() * 3.0e38f;
        break;
    case 7: // +-0 mixed with tiny normals
        for (int i = 0; i < 32; i++) x[i] = below(3) ? (below(2) ? 0.0f : -0.0f) : unit() * 1e-30f;
        break;
    case 8: x[below(32)] = INFINITY; break;
    case 9: x[below(32)] = NAN; break;
    case 10: x[below(32)] = -INFINITY; x[below(32)] = NAN; break;
    default: break;
    }
}

static uint16_t any_finite_f16(void) {
    for (;;) {
        uint16_t h = (uint16_t)next_u64();
        if ((h & 0x7C00) != 0x7C00) return h;
    }
}

// `n` random blocks of `bs` bytes whose leading `nsc` f16 fields are finite.
static void random_blocks(uint8_t *p, size_t n, size_t bs, int nsc) {
    for (size_t b = 0; b < n; b++) {
        for (size_t i = 0; i < bs; i++) p[b * bs + i] = (uint8_t)next_u64();
        for (int s = 0; s < nsc; s++) {
            uint16_t h = any_finite_f16();
            memcpy(p + b * bs + 2 * s, &h, 2);
        }
    }
}

enum { K = 256, NB = K / 32, M = 11, NT = 7, NQ = 512 };

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : ".";
    ggml_cpu_init();

    // 1. The activation quantizers on NQ blocks of every kind (kinds 8..10: non-finite).
    static float q_in[NQ * 32];
    for (int b = 0; b < NQ; b++) act_block(q_in + 32 * b, b < 8 * 11 ? b % 11 : (int)below(11));
    write_file(dir, "quant_in.f32", q_in, sizeof q_in);
    static uint8_t q8_0[NQ * 34], q8_1[NQ * 36];
    ggml_get_type_traits_cpu(GGML_TYPE_Q8_0)->from_float(q_in, q8_0, NQ * 32);
    ggml_get_type_traits_cpu(GGML_TYPE_Q8_1)->from_float(q_in, q8_1, NQ * 32);
    write_file(dir, "quant_in.q8_0", q8_0, sizeof q8_0);
    write_file(dir, "quant_in.q8_1", q8_1, sizeof q8_1);

    // 2. Activations for the products: NT tokens of K finite values.
    static float act[NT * K];
    for (int b = 0; b < NT * NB; b++) act_block(act + 32 * b, (int)below(8));
    write_file(dir, "act.f32", act, sizeof act);

    const enum ggml_type types[] = {GGML_TYPE_Q4_0, GGML_TYPE_Q4_1, GGML_TYPE_Q5_0, GGML_TYPE_Q5_1, GGML_TYPE_Q8_0};
    for (size_t ti = 0; ti < sizeof types / sizeof types[0]; ti++) {
        const enum ggml_type t = types[ti];
        const char *name = ggml_type_name(t);
        const struct ggml_type_traits_cpu *tr = ggml_get_type_traits_cpu(t);
        const enum ggml_type at = tr->vec_dot_type;
        const size_t wbs = ggml_type_size(t), abs_ = ggml_type_size(at);
        const int w_sc = (t == GGML_TYPE_Q4_1 || t == GGML_TYPE_Q5_1) ? 2 : 1;
        const int a_sc = at == GGML_TYPE_Q8_1 ? 2 : 1;
        char fn[256];

        // weights: random bytes, finite f16 scales (and mins)
        uint8_t *w = malloc(M * NB * wbs);
        random_blocks(w, M * NB, wbs, w_sc);
        snprintf(fn, sizeof fn, "%s.w", name);
        write_file(dir, fn, w, M * NB * wbs);

        // activations quantized by llama.cpp, and random activation blocks (any i8, -128 too)
        uint8_t *aq = malloc(NT * NB * abs_), *ar = malloc(NT * NB * abs_);
        ggml_get_type_traits_cpu(at)->from_float(act, aq, NT * K);
        random_blocks(ar, NT * NB, abs_, a_sc);
        snprintf(fn, sizeof fn, "%s.arand", name);
        write_file(dir, fn, ar, NT * NB * abs_);

        // vec_dot of every (token, row), against both activation sets
        float dq[NT * M], dr[NT * M];
        for (int j = 0; j < NT; j++)
            for (int i = 0; i < M; i++) {
                tr->vec_dot(K, &dq[j * M + i], 0, w + i * NB * wbs, 0, aq + j * NB * abs_, 0, 1);
                tr->vec_dot(K, &dr[j * M + i], 0, w + i * NB * wbs, 0, ar + j * NB * abs_, 0, 1);
            }
        snprintf(fn, sizeof fn, "%s.dot.f32", name);
        write_file(dir, fn, dq, sizeof dq);
        snprintf(fn, sizeof fn, "%s.rdot.f32", name);
        write_file(dir, fn, dr, sizeof dr);

        // ggml_mul_mat of the weights with the first n f32 tokens, n = 1..NT (n = 1 is the
        // vec_dot path, n >= 2 llamafile's tinyBLAS where it has the type), 1 and 2 threads
        float mm[2][NT][NT * M];
        for (int nth = 1; nth <= 2; nth++)
            for (int n = 1; n <= NT; n++) {
                struct ggml_init_params ip = {64 * 1024 * 1024, NULL, false};
                struct ggml_context *ctx = ggml_init(ip);
                struct ggml_tensor *tw = ggml_new_tensor_2d(ctx, t, K, M);
                struct ggml_tensor *ta = ggml_new_tensor_2d(ctx, GGML_TYPE_F32, K, n);
                memcpy(tw->data, w, M * NB * wbs);
                memcpy(ta->data, act, (size_t)n * K * sizeof(float));
                struct ggml_tensor *out = ggml_mul_mat(ctx, tw, ta);
                struct ggml_cgraph *g = ggml_new_graph(ctx);
                ggml_build_forward_expand(g, out);
                if (ggml_graph_compute_with_ctx(ctx, g, nth) != GGML_STATUS_SUCCESS) { fprintf(stderr, "compute\n"); return 1; }
                memset(mm[nth - 1][n - 1], 0, sizeof mm[0][0]);
                memcpy(mm[nth - 1][n - 1], out->data, (size_t)n * M * sizeof(float));
                ggml_free(ctx);
            }
        if (memcmp(mm[0], mm[1], sizeof mm[0]) != 0) { fprintf(stderr, "%s: 1 and 2 threads differ\n", name); return 1; }
        snprintf(fn, sizeof fn, "%s.mm.f32", name);
        write_file(dir, fn, mm[0], sizeof mm[0]);
        free(w); free(aq); free(ar);
    }
    return 0;
}
