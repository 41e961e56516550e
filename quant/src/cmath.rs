//! The C math functions of the specs, as llama.cpp's CPU backend gets them.
//!
//! - [`fmaf`]: IEEE fused multiply-add (`f32::mul_add` with `std`, `libm::fmaf` without: the
//!   same bits everywhere).
//! - [`expf`]: with `std`, the C library's `expf` (what llama.cpp calls; glibc on Linux); without
//!   `std`, the `libm` crate's (FreeBSD's), which differs from glibc's by one ulp on some inputs.

/// `a * b + c` with one rounding.
#[inline]
pub fn fmaf(a: f32, b: f32, c: f32) -> f32 {
    #[cfg(feature = "std")]
    {
        a.mul_add(b, c)
    }
    #[cfg(not(feature = "std"))]
    {
        libm::fmaf(a, b, c)
    }
}

/// `e^x` as the platform's C library computes it (see the module docs).
#[inline]
pub fn expf(x: f32) -> f32 {
    #[cfg(feature = "std")]
    {
        x.exp()
    }
    #[cfg(not(feature = "std"))]
    {
        libm::expf(x)
    }
}
