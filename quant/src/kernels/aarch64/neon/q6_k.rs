//! `q6_K x q8_K` with baseline NEON: the spec's product (llama.cpp's x86-64 AVX2 order),
//! bit-exact, from [`super::k_quad`].

super::k_quad::q6k_kernels!("neon", crate::kernels::aarch64::neon::k_quad::dot4_neon);
