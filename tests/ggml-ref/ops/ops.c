// Reference outputs of llama.cpp's CPU ops (libggml as built here: x86-64, AVX2/FMA/F16C,
// GGML_LLAMAFILE=ON) on deterministic inputs, for runtime/tests/ggml_ops.rs and
// quant/tests/ggml_attn_dots.rs. See README.md for the command.
//
// Each case writes <dir>/<name>.bin: its f32 (or f16 as u16) arrays back to back, little-endian,
// inputs first, then ggml's output; the shapes are fixed here and in the Rust tests.
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ggml.h"
#include "ggml-cpu.h"

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint32_t next_u32(void) {
    rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
    return (uint32_t)(rng >> 32);
}
// Uniform in [-1, 1).
static float unit(void) { return (float)((int32_t)next_u32()) / 2147483648.0f; }

static const char * dir;
static FILE * out_open(const char * name) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s.bin", dir, name);
    FILE * f = fopen(path, "wb");
    if (!f) { perror(path); exit(1); }
    return f;
}
static void put(FILE * f, const struct ggml_tensor * t) {
    fwrite(t->data, 1, ggml_nbytes(t), f);
}

static struct ggml_context * new_ctx(void) {
    struct ggml_init_params p = { 64u << 20, NULL, false };
    return ggml_init(p);
}
static void compute(struct ggml_context * ctx, struct ggml_tensor * out) {
    struct ggml_cgraph * gf = ggml_new_graph(ctx);
    ggml_build_forward_expand(gf, out);
    ggml_graph_compute_with_ctx(ctx, gf, 1);
}
static struct ggml_tensor * rand_f32(struct ggml_context * ctx, int64_t n0, int64_t n1, float scale) {
    struct ggml_tensor * t = ggml_new_tensor_2d(ctx, GGML_TYPE_F32, n0, n1);
    for (int64_t i = 0; i < n0 * n1; i++) ((float *) t->data)[i] = unit() * scale;
    return t;
}
static struct ggml_tensor * rand_f16(struct ggml_context * ctx, int64_t n0, int64_t n1, float scale) {
    struct ggml_tensor * t = ggml_new_tensor_2d(ctx, GGML_TYPE_F16, n0, n1);
    for (int64_t i = 0; i < n0 * n1; i++) ((ggml_fp16_t *) t->data)[i] = ggml_fp32_to_fp16(unit() * scale);
    return t;
}

// Attention scores [n_kv, rows] x 2 heads, causal mask (row r sees cells 0..=vis[r]), scale.
static void softmax_case(const char * name, int n_kv, int rows, const int * vis, float amp, float scale) {
    struct ggml_context * ctx = new_ctx();
    struct ggml_tensor * x = ggml_new_tensor_3d(ctx, GGML_TYPE_F32, n_kv, rows, 2);
    for (int64_t i = 0; i < ggml_nelements(x); i++) ((float *) x->data)[i] = unit() * amp;
    struct ggml_tensor * m = ggml_new_tensor_2d(ctx, GGML_TYPE_F32, n_kv, rows);
    for (int r = 0; r < rows; r++)
        for (int j = 0; j < n_kv; j++) ((float *) m->data)[r * n_kv + j] = j <= vis[r] ? 0.0f : -INFINITY;
    struct ggml_tensor * y = ggml_soft_max_ext(ctx, x, m, scale, 0.0f);
    compute(ctx, y);
    FILE * f = out_open(name);
    put(f, x); put(f, y);
    fclose(f);
    ggml_free(ctx);
}

static void swiglu_case(const char * name, int n, int rows, float amp) {
    struct ggml_context * ctx = new_ctx();
    struct ggml_tensor * g = rand_f32(ctx, n, rows, amp);
    struct ggml_tensor * u = rand_f32(ctx, n, rows, 2.0f);
    struct ggml_tensor * y = ggml_swiglu_split(ctx, g, u);
    compute(ctx, y);
    FILE * f = out_open(name);
    put(f, g); put(f, u); put(f, y);
    fclose(f);
    ggml_free(ctx);
}

// C = mul_mat(A f16 [k, m], B f32 [k, n]) -> [m, n] (B converted to f16 by ggml).
static void mul_mat_case(const char * name, int k, int m, int n, float amp_a, float amp_b, int zero_tail) {
    struct ggml_context * ctx = new_ctx();
    struct ggml_tensor * a = rand_f16(ctx, k, m, amp_a);
    struct ggml_tensor * b = rand_f32(ctx, k, n, amp_b);
    if (zero_tail) {  // probabilities: non-negative, zero past a per-column visible length
        for (int j = 0; j < n; j++)
            for (int i = 0; i < k; i++) {
                float * v = (float *) b->data + j * k + i;
                *v = i <= (k / 3 + 37 * j) % k ? fabsf(*v) : 0.0f;
            }
    }
    struct ggml_tensor * c = ggml_mul_mat(ctx, a, b);
    compute(ctx, c);
    FILE * f = out_open(name);
    put(f, a); put(f, b); put(f, c);
    fclose(f);
    ggml_free(ctx);
}

// C = mul_mat(A f32 [k, m], B f32 [k, n]): an f32 KV cache's products.
static void mul_mat_f32_case(const char * name, int k, int m, int n) {
    struct ggml_context * ctx = new_ctx();
    struct ggml_tensor * a = rand_f32(ctx, k, m, 3.0f);
    struct ggml_tensor * b = rand_f32(ctx, k, n, 3.0f);
    struct ggml_tensor * c = ggml_mul_mat(ctx, a, b);
    compute(ctx, c);
    FILE * f = out_open(name);
    put(f, a); put(f, b); put(f, c);
    fclose(f);
    ggml_free(ctx);
}

// rms_norm(x) * w over rows of n (the graph llama.cpp builds; the CPU backend fuses the two).
static void rms_norm_case(const char * name, int n, int rows, float eps) {
    struct ggml_context * ctx = new_ctx();
    struct ggml_tensor * x = rand_f32(ctx, n, rows, 4.0f);
    for (int i = 0; i < n; i += 97) ((float *) x->data)[i] *= 300.0f;  // massive activations
    struct ggml_tensor * w = rand_f32(ctx, n, 1, 2.0f);
    struct ggml_tensor * y = ggml_mul(ctx, ggml_rms_norm(ctx, x, eps), w);
    compute(ctx, y);
    FILE * f = out_open(name);
    put(f, x); put(f, w); put(f, y);
    fclose(f);
    ggml_free(ctx);
}

// rope_ext of [hd, 2 heads, 8 tokens] at fixed positions, no YaRN (ext_factor 0, attn_factor 1).
static void rope_case(const char * name, int hd, int mode, float base) {
    static const int32_t pos[8] = { 0, 1, 2, 3, 17, 100, 255, 1000 };
    struct ggml_context * ctx = new_ctx();
    struct ggml_tensor * x = ggml_new_tensor_3d(ctx, GGML_TYPE_F32, hd, 2, 8);
    for (int64_t i = 0; i < ggml_nelements(x); i++) ((float *) x->data)[i] = unit() * 3.0f;
    struct ggml_tensor * p = ggml_new_tensor_1d(ctx, GGML_TYPE_I32, 8);
    memcpy(p->data, pos, sizeof pos);
    struct ggml_tensor * y = ggml_rope_ext(ctx, x, p, NULL, hd, mode, 0, base, 1.0f, 0.0f, 1.0f, 32.0f, 1.0f);
    compute(ctx, y);
    FILE * f = out_open(name);
    put(f, x); put(f, y);
    fclose(f);
    ggml_free(ctx);
}

// geglu_split(x, 1) for every finite f16 value of x (bit pattern i at index i, 0 for inf/NaN)
// and 8 values around and past +-10 (ggml's GELU table path). Only the output is written: the
// Rust test rebuilds x.
static void geglu_case(const char * name) {
    const int n = 65536 + 8;
    struct ggml_context * ctx = new_ctx();
    struct ggml_tensor * x = ggml_new_tensor_1d(ctx, GGML_TYPE_F32, n);
    struct ggml_tensor * g = ggml_new_tensor_1d(ctx, GGML_TYPE_F32, n);
    for (int i = 0; i < 65536; i++) {
        float v = ggml_fp16_to_fp32((ggml_fp16_t) i);
        ((float *) x->data)[i] = isfinite(v) ? v : 0.0f;
    }
    const float extra[8] = { -10.0f, 10.0f, -9.999f, 9.999f, 10.001f, -10.001f, 1e30f, -1e30f };
    memcpy((float *) x->data + 65536, extra, sizeof extra);
    for (int i = 0; i < n; i++) ((float *) g->data)[i] = 1.0f;
    struct ggml_tensor * y = ggml_geglu_split(ctx, x, g);
    compute(ctx, y);
    FILE * f = out_open(name);
    put(f, y);
    fclose(f);
    ggml_free(ctx);
}

int main(int argc, char ** argv) {
    if (argc != 2) { fprintf(stderr, "usage: %s OUTDIR\n", argv[0]); return 2; }
    dir = argv[1];
    ggml_cpu_init();
    // SmolLM2 shapes: head 64, perplexity KV length 256 (one sequence) ; a wide-range row too.
    const int vis5[5] = { 0, 7, 100, 200, 255 };
    softmax_case("softmax_256x5x2", 256, 5, vis5, 8.0f, 0.125f);
    softmax_case("softmax_256x5x2_wide", 256, 5, vis5, 120.0f, 1.0f);
    swiglu_case("swiglu_1536x3", 1536, 3, 6.0f);
    swiglu_case("swiglu_64x2_wide", 64, 2, 120.0f);
    swiglu_case("swiglu_21x4", 21, 4, 9.0f);                    // 5-value scalar remainders
    const int vis3[3] = { 20, 20, 20 };
    softmax_case("softmax_21x3x2", 21, 3, vis3, 8.0f, 0.5f);     // 5-value scalar remainders
    mul_mat_case("kq_hd64_kv256_t4", 64, 256, 4, 3.0f, 3.0f, 0);   // batched: tinyBLAS
    mul_mat_case("kq_hd64_kv256_t1", 64, 256, 1, 3.0f, 3.0f, 0);   // one token: vec_dot_f16
    mul_mat_case("kqv_kv256_hd64_t4", 256, 64, 4, 2.0f, 0.05f, 1); // batched: tinyBLAS
    mul_mat_case("kqv_kv256_hd64_t1", 256, 64, 1, 2.0f, 0.05f, 1); // one token: vec_dot_f16
    rms_norm_case("rms_norm_576x3", 576, 3, 1e-5f);
    rope_case("rope_norm_hd64", 64, 0, 100000.0f);               // llama (SmolLM2)
    rope_case("rope_neox_hd256", 256, 2, 1000000.0f);            // neox (Gemma 3 global layers)
    geglu_case("geglu_all_f16");
    mul_mat_f32_case("f32_k37_m8_t1", 37, 8, 1);                // vec_dot_f32 with a 5-value tail
    mul_mat_f32_case("f32_k40_m8_t4", 40, 8, 4);                // tinyBLAS f32
    return 0;
}
