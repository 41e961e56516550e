//! The IEEE fused multiply-add of the specs: `a * b + c` rounded once.

/// `a * b + c` with one rounding (`f32::mul_add` with `std`, `libm::fmaf` without: the same
/// bits, IEEE 754 `fusedMultiplyAdd`).
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
