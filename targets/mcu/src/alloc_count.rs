//! A global allocator wrapper that counts: bytes in use, their peak, allocation calls. The
//! firmware wraps its heap in it to prove that generating allocates nothing and to measure
//! the heap's peak.

use core::alloc::{GlobalAlloc, Layout};
use core::sync::atomic::{AtomicUsize, Ordering::Relaxed};

/// Counts what `A` hands out.
#[derive(Debug)]
pub struct CountingAlloc<A> {
    inner: A,
    current: AtomicUsize,
    peak: AtomicUsize,
    calls: AtomicUsize,
}

impl<A> CountingAlloc<A> {
    /// Wrap `inner`.
    pub const fn new(inner: A) -> Self {
        Self { inner, current: AtomicUsize::new(0), peak: AtomicUsize::new(0), calls: AtomicUsize::new(0) }
    }

    /// The wrapped allocator (to initialise it).
    pub fn inner(&self) -> &A {
        &self.inner
    }

    /// Bytes allocated and not yet freed.
    pub fn current(&self) -> usize {
        self.current.load(Relaxed)
    }

    /// The most bytes ever in use at once.
    pub fn peak(&self) -> usize {
        self.peak.load(Relaxed)
    }

    /// Allocation calls so far (`alloc`, `alloc_zeroed` and `realloc`).
    pub fn calls(&self) -> usize {
        self.calls.load(Relaxed)
    }

    fn grew(&self, by: usize) {
        let now = self.current.fetch_add(by, Relaxed) + by;
        self.peak.fetch_max(now, Relaxed);
    }
}

// SAFETY: every call forwards to `inner` with the caller's own arguments, so `inner`'s
// guarantees hold; the counters are only bookkeeping.
unsafe impl<A: GlobalAlloc> GlobalAlloc for CountingAlloc<A> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        self.calls.fetch_add(1, Relaxed);
        // SAFETY: forwarded unchanged (the caller upholds `alloc`'s contract).
        let p = unsafe { self.inner.alloc(layout) };
        if !p.is_null() {
            self.grew(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        self.calls.fetch_add(1, Relaxed);
        // SAFETY: forwarded unchanged.
        let p = unsafe { self.inner.alloc_zeroed(layout) };
        if !p.is_null() {
            self.grew(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged (`ptr` came from `inner` with `layout`).
        unsafe { self.inner.dealloc(ptr, layout) };
        self.current.fetch_sub(layout.size(), Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        self.calls.fetch_add(1, Relaxed);
        // SAFETY: forwarded unchanged.
        let p = unsafe { self.inner.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            if new_size >= layout.size() {
                self.grew(new_size - layout.size());
            } else {
                self.current.fetch_sub(layout.size() - new_size, Relaxed);
            }
        }
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_bytes_peak_and_calls() {
        let a = CountingAlloc::new(std::alloc::System);
        let l100 = Layout::from_size_align(100, 8).unwrap();
        let l50 = Layout::from_size_align(50, 4).unwrap();
        // Non-zero layouts; every pointer is freed with its own layout.
        // SAFETY: (each block) as above.
        let p = unsafe { a.alloc(l100) };
        // SAFETY: as above.
        let q = unsafe { a.alloc_zeroed(l50) };
        assert_eq!((a.current(), a.peak(), a.calls()), (150, 150, 2));
        // SAFETY: as above.
        unsafe { a.dealloc(p, l100) };
        assert_eq!((a.current(), a.peak()), (50, 150));
        // SAFETY: as above.
        let q = unsafe { a.realloc(q, l50, 300) };
        assert_eq!((a.current(), a.peak(), a.calls()), (300, 300, 3));
        // SAFETY: as above.
        let q = unsafe { a.realloc(q, Layout::from_size_align(300, 4).unwrap(), 10) };
        assert_eq!((a.current(), a.peak()), (10, 300));
        // SAFETY: as above.
        unsafe { a.dealloc(q, Layout::from_size_align(10, 4).unwrap()) };
        assert_eq!(a.current(), 0);
    }
}
