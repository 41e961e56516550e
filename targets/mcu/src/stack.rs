//! Stack high-water mark by painting: fill the unused stack with a pattern at boot, find the
//! lowest word that no longer holds it at the end.

/// The paint pattern.
pub const PAINT: u32 = 0xC0FF_EE5A;

/// Fill `[lo, hi)` (word-aligned inward) with [`PAINT`].
///
/// # Safety
/// `[lo, hi)` must be writable memory that nothing is using: the part of the stack below the
/// current stack pointer (less a margin for the caller's own frame).
pub unsafe fn paint(lo: usize, hi: usize) {
    let (lo, hi) = (lo.next_multiple_of(4), hi & !3);
    let mut p = lo;
    while p < hi {
        // SAFETY: the caller guarantees `[lo, hi)` is unused writable memory; `p` is aligned.
        unsafe { (p as *mut u32).write_volatile(PAINT) };
        p += 4;
    }
}

/// The stack use measured over a painted window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StackUse {
    /// Bytes from the lowest overwritten word up to the stack top.
    pub used: usize,
    /// The lowest painted word was overwritten: the stack may have gone further than measured.
    pub overflowed: bool,
}

/// Scan `[lo, hi)` (as painted by [`paint`]) upward for the first overwritten word and report
/// the stack use relative to `top` (the initial stack pointer).
///
/// # Safety
/// `[lo, hi)` must be readable memory.
pub unsafe fn high_water(lo: usize, hi: usize, top: usize) -> StackUse {
    let (lo, hi) = (lo.next_multiple_of(4), hi & !3);
    let mut p = lo;
    while p < hi {
        // SAFETY: the caller guarantees `[lo, hi)` is readable; `p` is aligned.
        if unsafe { (p as *const u32).read_volatile() } != PAINT {
            break;
        }
        p += 4;
    }
    StackUse { used: top - p, overflowed: p == lo }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_lowest_overwritten_word() {
        let mut mem = std::vec![0u32; 64];
        let base = mem.as_mut_ptr();
        let lo = base as usize;
        let top = lo + 64 * 4;
        let poke = |i: usize, v: u32| {
            // SAFETY: `i` < 64, inside `mem`, which outlives the test and is only used via `base`.
            unsafe { base.wrapping_add(i).write_volatile(v) }
        };
        let peek = |i: usize| {
            // SAFETY: as in `poke`.
            unsafe { base.wrapping_add(i).read_volatile() }
        };
        // SAFETY: the window is inside `mem`.
        unsafe { paint(lo, lo + 48 * 4) };
        assert!((0..48).all(|i| peek(i) == PAINT) && peek(48) == 0);
        // SAFETY: as above.
        let untouched = unsafe { high_water(lo, lo + 48 * 4, top) };
        assert_eq!(untouched, StackUse { used: 16 * 4, overflowed: false });
        poke(40, 7);
        poke(45, 9);
        // SAFETY: as above.
        let used = unsafe { high_water(lo, lo + 48 * 4, top) };
        assert_eq!(used, StackUse { used: 24 * 4, overflowed: false });
        poke(0, 1);
        // SAFETY: as above.
        assert!(unsafe { high_water(lo, lo + 48 * 4, top) }.overflowed);
    }
}
