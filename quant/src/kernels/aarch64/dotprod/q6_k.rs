//! `q6_K x q8_K` with NEON + dotprod: the spec's product (llama.cpp's x86-64 AVX2 order),
//! bit-exact, from [`crate::kernels::aarch64::neon::k_quad`] with `sdot`.

crate::kernels::aarch64::neon::k_quad::q6k_kernels!("neon,dotprod", super::sdot);
