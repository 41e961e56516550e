// Reference outputs of llama.cpp's x86-64 K-quant products, from its real CPU backend (the
// libggml*.so of a native AVX2/FMA build), for emberlm's q4_K / q6_K / q8_K specs.
// See README.md in this directory for the build command and the files written.
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ggml.h"
#include "ggml-alloc.h"
#include "ggml-backend.h"
#include "ggml-cpu.h"

#define QK 256
#define Q4K_BYTES 144
#define Q6K_BYTES 210
#define Q8K_BYTES 292

// ggml_quantize_mat_t<8, GGML_TYPE_Q8_K> (C++ template, exported; the q4_K 8x8 path's
// ggml_quantize_mat_q8_K_4x8): 4 rows -> block_q8_Kx4.
extern void _Z19ggml_quantize_mat_tILl8EL9ggml_type15EEvPKfPvll(const float *, void *, int64_t, int64_t);

static uint64_t rng_state;
static uint32_t rnd(void) {
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(rng_state >> 33);
}
static float unit(void) { return (float)(rnd() >> 8) / (float)(1u << 24) * 2.0f - 1.0f; }

static void write_file(const char * dir, const char * name, const void * data, size_t n) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE * f = fopen(path, "wb");
    if (!f || fwrite(data, 1, n, f) != n) { perror(path); exit(1); }
    fclose(f);
}

// Activation rows: gaussian-ish values with per-32 scales, outliers, and tied magnitudes.
static void make_acts(float * x, int m, int k) {
    for (int t = 0; t < m; t++) {
        float * r = x + (size_t)t * k;
        for (int i = 0; i < k; i++) {
            float s = (i / 32) % 3 == 0 ? 0.05f : 1.0f;
            r[i] = (unit() + unit() + unit()) * s;
            if (rnd() % 97 == 0) r[i] *= 300.0f;
        }
        if (t % 2 == 1) {
            // a tie of magnitudes in every block: -amax first, then +amax (t % 4 == 1), or the
            // reverse (t % 4 == 3)
            for (int b = 0; b < k / QK; b++) {
                float amax = 0;
                for (int i = 0; i < QK; i++) amax = fmaxf(amax, fabsf(r[b * QK + i]));
                amax *= 1.5f;
                float first = t % 4 == 1 ? -amax : amax;
                r[b * QK + 3 + b] = first;
                r[b * QK + 200 - b] = -first;
            }
        }
    }
}

// Weights: quantized by llama.cpp, then (for q4_K) random scale bytes and quants so that every
// 6-bit scale/min and nibble value occurs; d/dmin stay llama.cpp's (finite).
static void make_q4k(uint8_t * w, int n, int k) {
    float * src = malloc(sizeof(float) * k);
    for (int r = 0; r < n; r++) {
        for (int i = 0; i < k; i++) src[i] = unit() * (1.0f + (float)(r % 3));
        ggml_get_type_traits_cpu(GGML_TYPE_Q4_K)->from_float(src, w + (size_t)r * (k / QK) * Q4K_BYTES, k);
    }
    for (int b = 0; b < n * k / QK; b++) {
        uint8_t * blk = w + (size_t)b * Q4K_BYTES;
        if (b % 2 == 1) for (int i = 4; i < Q4K_BYTES; i++) blk[i] = (uint8_t)rnd();
    }
    free(src);
}

static void make_q6k(uint8_t * w, int n, int k) {
    float * src = malloc(sizeof(float) * k);
    for (int r = 0; r < n; r++) {
        for (int i = 0; i < k; i++) src[i] = unit() * (1.0f + (float)(r % 3));
        ggml_get_type_traits_cpu(GGML_TYPE_Q6_K)->from_float(src, w + (size_t)r * (k / QK) * Q6K_BYTES, k);
    }
    for (int b = 0; b < n * k / QK; b++) {
        uint8_t * blk = w + (size_t)b * Q6K_BYTES;
        if (b % 2 == 1) for (int i = 0; i < 208; i++) blk[i] = (uint8_t)rnd();
    }
    free(src);
}

// y[t*n + r] = W[r] . x[t] through ggml_mul_mat with W in the CPU repack buffer type (the
// ggml_gemm/gemv_q4_K_8x8_q8_K path of a default llama.cpp run on AVX2).
static void mul_mat_repacked(const uint8_t * w, int n, int k, const float * x, int m, float * y) {
    ggml_backend_t be = ggml_backend_cpu_init();
    ggml_backend_cpu_set_n_threads(be, 1);
    ggml_backend_dev_t dev = ggml_backend_get_device(be);
    ggml_backend_reg_t reg = ggml_backend_dev_backend_reg(dev);
    ggml_backend_dev_get_extra_bufts_t get_extra =
        (ggml_backend_dev_get_extra_bufts_t)ggml_backend_reg_get_proc_address(reg, "ggml_backend_dev_get_extra_bufts");
    ggml_backend_buffer_type_t repack = NULL;
    for (ggml_backend_buffer_type_t * p = get_extra(dev); p && *p; p++) {
        if (strcmp(ggml_backend_buft_name(*p), "CPU_REPACK") == 0) repack = *p;
    }
    if (!repack) { fprintf(stderr, "no CPU_REPACK buffer type\n"); exit(1); }

    struct ggml_init_params ip = { ggml_tensor_overhead() * 8 + ggml_graph_overhead(), NULL, true };
    struct ggml_context * cw = ggml_init(ip);
    struct ggml_tensor * W = ggml_new_tensor_2d(cw, GGML_TYPE_Q4_K, k, n);
    ggml_backend_buffer_t bw = ggml_backend_alloc_ctx_tensors_from_buft(cw, repack);
    ggml_backend_tensor_set(W, w, 0, ggml_nbytes(W));
    if (W->extra == NULL) { fprintf(stderr, "W was not repacked\n"); exit(1); }

    struct ggml_context * c = ggml_init(ip);
    struct ggml_tensor * X = ggml_new_tensor_2d(c, GGML_TYPE_F32, k, m);
    struct ggml_tensor * Y = ggml_mul_mat(c, W, X);
    struct ggml_cgraph * gf = ggml_new_graph(c);
    ggml_build_forward_expand(gf, Y);
    ggml_backend_buffer_t bx = ggml_backend_alloc_ctx_tensors(c, be);
    ggml_backend_tensor_set(X, x, 0, ggml_nbytes(X));
    if (ggml_backend_graph_compute(be, gf) != GGML_STATUS_SUCCESS) { fprintf(stderr, "compute\n"); exit(1); }
    ggml_backend_tensor_get(Y, y, 0, ggml_nbytes(Y));
    ggml_backend_buffer_free(bx);
    ggml_backend_buffer_free(bw);
    ggml_free(c);
    ggml_free(cw);
    ggml_backend_free(be);
}

int main(int argc, char ** argv) {
    if (argc != 2) { fprintf(stderr, "usage: %s OUT_DIR\n", argv[0]); return 2; }
    const char * dir = argv[1];
    ggml_cpu_init();
    rng_state = 0x5eed;
    const int K = 1024, NB = K / QK, M = 7, N4 = 16, N6 = 8;

    float * x = malloc(sizeof(float) * M * K);
    make_acts(x, M, K);
    write_file(dir, "x.f32", x, sizeof(float) * M * K);

    // q8_K: quantize_row_q8_K (the from_float of the vec_dot paths and of gemv rows) ...
    uint8_t * q8 = calloc(M * NB, Q8K_BYTES);
    for (int t = 0; t < M; t++) {
        ggml_get_type_traits_cpu(GGML_TYPE_Q8_K)->from_float(x + (size_t)t * K, q8 + (size_t)t * NB * Q8K_BYTES, K);
    }
    write_file(dir, "q8k_row.bin", q8, (size_t)M * NB * Q8K_BYTES);
    // ... and ggml_quantize_mat_q8_K_4x8 of rows 0..4 (gemm rows), de-interleaved to plain
    // block_q8_K (d, qs; bsums recomputed as sums of 16).
    uint8_t * x4 = malloc(1168 * NB);
    _Z19ggml_quantize_mat_tILl8EL9ggml_type15EEvPKfPvll(x, x4, 4, K);
    uint8_t * q84 = calloc(4 * NB, Q8K_BYTES);
    for (int r = 0; r < 4; r++) {
        for (int b = 0; b < NB; b++) {
            const uint8_t * src = x4 + (size_t)b * 1168;
            uint8_t * dst = q84 + ((size_t)r * NB + b) * Q8K_BYTES;
            memcpy(dst, src + 4 * r, 4);
            // the four rows interleaved in groups of 8 bytes
            for (int v = 0; v < QK; v++) dst[4 + v] = src[16 + (v / 8) * 32 + r * 8 + v % 8];
            for (int j = 0; j < 16; j++) {
                int s = 0;
                for (int v = 0; v < 16; v++) s += (int8_t)dst[4 + 16 * j + v];
                int16_t s16 = (int16_t)s;
                memcpy(dst + 260 + 2 * j, &s16, 2);
            }
        }
    }
    write_file(dir, "q8k_4rows.bin", q84, (size_t)4 * NB * Q8K_BYTES);

    // q4_K weights: ggml_vec_dot_q4_K_q8_K (not repacked) and the repacked mul_mat
    uint8_t * w4 = malloc((size_t)N4 * NB * Q4K_BYTES);
    make_q4k(w4, N4, K);
    write_file(dir, "q4k_w.bin", w4, (size_t)N4 * NB * Q4K_BYTES);
    float * y = malloc(sizeof(float) * M * N4);
    for (int t = 0; t < M; t++) {
        for (int r = 0; r < N4; r++) {
            ggml_get_type_traits_cpu(GGML_TYPE_Q4_K)->vec_dot(K, &y[t * N4 + r], 0,
                w4 + (size_t)r * NB * Q4K_BYTES, 0, q8 + (size_t)t * NB * Q8K_BYTES, 0, 1);
        }
    }
    write_file(dir, "q4k_vec_dot.f32", y, sizeof(float) * M * N4);
    mul_mat_repacked(w4, N4, K, x, M, y);
    write_file(dir, "q4k_repacked_m7.f32", y, sizeof(float) * M * N4);
    mul_mat_repacked(w4, N4, K, x + (size_t)1 * K, 1, y);
    write_file(dir, "q4k_repacked_m1_row1.f32", y, sizeof(float) * N4);

    // q6_K weights: ggml_vec_dot_q6_K_q8_K (never repacked on x86)
    uint8_t * w6 = malloc((size_t)N6 * NB * Q6K_BYTES);
    make_q6k(w6, N6, K);
    write_file(dir, "q6k_w.bin", w6, (size_t)N6 * NB * Q6K_BYTES);
    for (int t = 0; t < M; t++) {
        for (int r = 0; r < N6; r++) {
            ggml_get_type_traits_cpu(GGML_TYPE_Q6_K)->vec_dot(K, &y[t * N6 + r], 0,
                w6 + (size_t)r * NB * Q6K_BYTES, 0, q8 + (size_t)t * NB * Q8K_BYTES, 0, 1);
        }
    }
    write_file(dir, "q6k_vec_dot.f32", y, sizeof(float) * M * N6);
    printf("wrote fixtures to %s\n", dir);
    return 0;
}
