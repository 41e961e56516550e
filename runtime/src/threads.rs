//! A small persistent thread pool for the products of a forward pass (std only; without `std`
//! every [`Pool`] is the calling thread alone and runs the same code serially).
//!
//! A decoding step runs a few hundred products of a few microseconds each, so the pool is built
//! for latency, not throughput: the workers are started once (with the session), a job is a
//! borrowed closure published by bumping an epoch counter, idle workers spin for a short while
//! before parking (a product follows the previous one within microseconds while a token is
//! decoded; between tokens they sleep), and the calling thread takes part in every job.
//! Nothing is allocated per job.
//!
//! Work is split with [`Pool::split_mut`]: a mutable output is cut into disjoint parts that the
//! threads take one after another from a shared counter, so a thread that the OS preempts (a
//! loaded machine) delays only the parts it holds, not a fixed half of the work. Decoding's
//! products use [`Pool::split_many_mut`] instead: each thread streams its own contiguous region
//! of weight rows and takes the others' last parts when it is done with it.

use core::ops::Range;
#[cfg(feature = "std")]
use core::sync::atomic::{AtomicUsize, Ordering};

#[cfg(feature = "std")]
use std::sync::Mutex;

use crate::error::Result;

/// Most parts [`Pool::split_mut`] cuts an output into.
pub const MAX_PARTS: usize = 64;

/// Most threads a pool has (more are clamped to this).
pub const MAX_THREADS: usize = 64;

/// Parts per thread [`Pool::split_mut`] aims for (more parts balance load on a busy machine;
/// fewer have less overhead).
const PARTS_PER_THREAD: usize = 4;

/// The work of one part in [`Pool::split_mut_with`]: its range in units, its data, the thread's
/// scratch.
pub type PartFn<'f, T, S> = dyn Fn(Range<usize>, &mut [T], &mut S) + Sync + 'f;

/// The work of one part in [`Pool::split_many_mut`]: which output, its range in units, its data.
pub type ManyPartFn<'f, T> = dyn Fn(usize, Range<usize>, &mut [T]) + Sync + 'f;

/// The work of one part in [`Pool::split_pair_mut`]: its range in units, its data in both
/// outputs.
pub type PairPartFn<'f, T> = dyn Fn(Range<usize>, &mut [T], &mut [T]) + Sync + 'f;

/// A part of one of several outputs not yet taken by a thread.
#[cfg(feature = "std")]
type ManySlot<'d, T> = Mutex<Option<(usize, Range<usize>, &'d mut [T])>>;

/// A part of two outputs not yet taken by a thread.
#[cfg(feature = "std")]
type PairSlot<'d, T> = Mutex<Option<(Range<usize>, &'d mut [T], &'d mut [T])>>;

/// A part not yet taken by a thread.
#[cfg(feature = "std")]
type Slot<'d, T> = Mutex<Option<(Range<usize>, &'d mut [T])>>;

/// The threads a session runs its products on: the calling thread plus `n_threads - 1`
/// persistent workers.
#[derive(Debug)]
pub struct Pool {
    n_threads: usize,
    #[cfg(feature = "std")]
    workers: Option<workers::Workers>,
}

impl Default for Pool {
    fn default() -> Self {
        Self::single()
    }
}

impl Pool {
    /// The calling thread alone (what `no_std` builds always use).
    pub const fn single() -> Self {
        Self {
            n_threads: 1,
            #[cfg(feature = "std")]
            workers: None,
        }
    }

    /// A pool of `n_threads` threads in total, the caller included; 0 means one per available
    /// core (at most [`MAX_THREADS`]). Without `std` the pool is always the calling thread alone.
    pub fn new(n_threads: usize) -> Result<Self> {
        #[cfg(feature = "std")]
        {
            let n = match n_threads {
                0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
                n => n.min(MAX_THREADS),
            };
            if n <= 1 {
                return Ok(Self::single());
            }
            Ok(Self { n_threads: n, workers: Some(workers::Workers::start(n - 1)?) })
        }
        #[cfg(not(feature = "std"))]
        {
            let _ = n_threads;
            Ok(Self::single())
        }
    }

    /// Threads in the pool, the caller included.
    pub fn n_threads(&self) -> usize {
        self.n_threads
    }

    /// Run `f(0)` on the calling thread and, concurrently, `f(i)` on every worker `i` that is
    /// ready before the caller's call returns; return when every call has returned. Each index
    /// runs at most once, but a busy (preempted) worker may miss the job: `f` must take its work
    /// from a shared counter, as [`Pool::split_mut`] does, not by index. A panic in any call is
    /// re-raised here after all calls have finished.
    pub fn broadcast(&self, f: &(dyn Fn(usize) + Sync)) {
        #[cfg(feature = "std")]
        if let Some(w) = &self.workers {
            w.run(f);
            return;
        }
        f(0);
    }

    /// Cut `data` (a whole number of `unit`-element units) into at most [`MAX_PARTS`] parts of
    /// whole units and run `f(units, part)` for every part on the pool's threads, where `units`
    /// is the part's range in units. With one thread (or one unit) this is `f(0..n, data)`.
    pub fn split_mut<T: Send>(
        &self,
        data: &mut [T],
        unit: usize,
        f: &(dyn Fn(Range<usize>, &mut [T]) + Sync),
    ) {
        let mut none = [(); MAX_THREADS];
        self.split_mut_with(data, unit, &mut none, &|units, part, _| f(units, part));
    }

    /// [`Pool::split_mut`] with per-thread scratch: the thread with index `i` passes
    /// `scratch[i]` to every part it runs. `scratch` needs at least [`Pool::n_threads`] entries
    /// (with fewer, only that many threads take part).
    pub fn split_mut_with<T: Send, S: Send>(
        &self,
        data: &mut [T],
        unit: usize,
        scratch: &mut [S],
        f: &PartFn<'_, T, S>,
    ) {
        let unit = unit.max(1);
        let n_units = data.len() / unit;
        let n_threads = self.n_threads.min(scratch.len());
        let n_parts = (n_threads * PARTS_PER_THREAD).min(n_units).min(MAX_PARTS);
        if n_threads <= 1 || n_parts <= 1 {
            if let Some(s) = scratch.first_mut() {
                f(0..n_units, data, s);
            }
            return;
        }
        #[cfg(feature = "std")]
        {
            let per_part = n_units.div_ceil(n_parts);
            let mut slots: [Slot<'_, T>; MAX_PARTS] = [const { Mutex::new(None) }; MAX_PARTS];
            let mut n_slots = 0;
            for (i, part) in data.chunks_mut(per_part * unit).enumerate() {
                let start = i * per_part;
                let units = start..start + part.len() / unit;
                slots[i] = Mutex::new(Some((units, part)));
                n_slots = i + 1;
            }
            let mut scratches: [Mutex<Option<&mut S>>; MAX_THREADS] =
                [const { Mutex::new(None) }; MAX_THREADS];
            for (slot, s) in scratches.iter_mut().zip(scratch.iter_mut()) {
                *slot = Mutex::new(Some(s));
            }
            let next = AtomicUsize::new(0);
            self.broadcast(&|thread| {
                // Each thread takes its own scratch, and each part is taken once: no lock is
                // ever contended. A poisoned lock means another part panicked (re-raised by
                // `broadcast`).
                let Some(s) = scratches.get(thread).and_then(|m| m.lock().ok()?.take()) else {
                    return;
                };
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n_slots {
                        break;
                    }
                    if let Ok(Some((units, part))) = slots[i].lock().map(|mut p| p.take()) {
                        f(units, part, &mut *s);
                    }
                }
            });
        }
    }
}

impl Pool {
    /// [`Pool::split_mut`] over several outputs in one job, for streaming products (decoding):
    /// `f(i, units, part)` runs once for every part of every output `i` (a whole number of
    /// `unit`-element units), on the pool's threads. One job instead of one per output: products
    /// that share an input (Q, K and V; gate and up) cost one synchronisation.
    ///
    /// The units of all outputs, in order, are cut into one region per thread, and each region
    /// into parts that halve in size towards its end. Thread `k` takes its region's parts from the
    /// front (one contiguous stream of weight rows, as a static split would give it); a thread
    /// done with its region takes the parts left in the others from their back, the smallest
    /// first. So a thread that started late or runs slower (the other core's memory traffic, a
    /// preemption) hands the tail of its share to the others instead of making them wait, while
    /// each thread still streams one contiguous range of rows nearly all the time.
    pub fn split_many_mut<T: Send>(&self, data: &mut [&mut [T]], unit: usize, f: &ManyPartFn<'_, T>) {
        let unit = unit.max(1);
        let total: usize = data.iter().map(|d| d.len() / unit).sum();
        // at least one part per region, and at most MAX_PARTS parts in all (below)
        let n_regions = self.n_threads.min(total).min(MAX_PARTS.saturating_sub(data.len()));
        if n_regions <= 1 {
            for (i, d) in data.iter_mut().enumerate() {
                let n = d.len() / unit;
                f(i, 0..n, d);
            }
            return;
        }
        #[cfg(feature = "std")]
        {
            // An output boundary inside a cut splits it once more, so there are at most
            // n_regions * budget + data.len() - 1 < MAX_PARTS parts.
            let budget = (MAX_PARTS - data.len()) / n_regions;
            let mut slots: [ManySlot<'_, T>; MAX_PARTS] = [const { Mutex::new(None) }; MAX_PARTS];
            // the parts of region `k` are slots `first[k]..first[k + 1]`
            let mut first = [0usize; MAX_THREADS + 1];
            let mut n_slots = 0;
            let mut outs = data.iter_mut().map(|d| &mut d[..]).enumerate();
            // the output being cut, its units not yet cut and the first of them
            let (mut i, mut cur, mut local): (usize, &mut [T], usize) = (0, &mut [], 0);
            cut_regions(total, n_regions, budget, |k, units| {
                if units.start == total * k / n_regions {
                    first[k] = n_slots;
                }
                let mut n = units.len();
                while n > 0 {
                    while cur.len() < unit {
                        let Some((j, d)) = outs.next() else { unreachable!("units counted above") };
                        (i, cur, local) = (j, d, 0);
                    }
                    let here = n.min(cur.len() / unit);
                    let (part, tail) = core::mem::take(&mut cur).split_at_mut(here * unit);
                    slots[n_slots] = Mutex::new(Some((i, local..local + here, part)));
                    (cur, local, n, n_slots) = (tail, local + here, n - here, n_slots + 1);
                }
            });
            first[n_regions] = n_slots;
            self.run_regions(&first[..=n_regions], &|s| {
                // a poisoned lock means another part panicked (re-raised by `broadcast`)
                if let Ok(Some((i, units, part))) = slots[s].lock().map(|mut p| p.take()) {
                    f(i, units, part);
                }
            });
        }
    }

    /// [`Pool::split_many_mut`] for two outputs cut at the same units: `f(units, a_part, b_part)`
    /// runs once for every part, with the same range of `a` and of `b` (`min(a.len(), b.len())
    /// / unit` units). Decoding's gate and up products take it, so that the thread that
    /// computes a part's rows of both also computes their gated activation, in the same job.
    pub fn split_pair_mut<T: Send>(&self, a: &mut [T], b: &mut [T], unit: usize, f: &PairPartFn<'_, T>) {
        let unit = unit.max(1);
        let total = a.len().min(b.len()) / unit;
        let (a, b) = (&mut a[..total * unit], &mut b[..total * unit]);
        let n_regions = self.n_threads.min(total).min(MAX_PARTS);
        if n_regions <= 1 {
            f(0..total, a, b);
            return;
        }
        #[cfg(feature = "std")]
        {
            let mut slots: [PairSlot<'_, T>; MAX_PARTS] = [const { Mutex::new(None) }; MAX_PARTS];
            let mut first = [0usize; MAX_THREADS + 1];
            let mut n_slots = 0;
            let (mut a, mut b) = (a, b);
            cut_regions(total, n_regions, MAX_PARTS / n_regions, |k, units| {
                if units.start == total * k / n_regions {
                    first[k] = n_slots;
                }
                let n = units.len() * unit;
                let (pa, ta) = core::mem::take(&mut a).split_at_mut(n);
                let (pb, tb) = core::mem::take(&mut b).split_at_mut(n);
                slots[n_slots] = Mutex::new(Some((units, pa, pb)));
                (a, b, n_slots) = (ta, tb, n_slots + 1);
            });
            first[n_regions] = n_slots;
            self.run_regions(&first[..=n_regions], &|s| {
                if let Ok(Some((units, pa, pb))) = slots[s].lock().map(|mut p| p.take()) {
                    f(units, pa, pb);
                }
            });
        }
    }

    /// Run the parts of [`cut_regions`]' regions (region `k`: parts `first[k]..first[k + 1]`,
    /// `take(part)` runs one): thread `k` takes its region's parts from the front, then the parts
    /// left in the other regions from their back.
    #[cfg(feature = "std")]
    fn run_regions(&self, first: &[usize], take: &(dyn Fn(usize) + Sync)) {
        let n_regions = first.len() - 1;
        self.broadcast(&|t| {
            if t < n_regions {
                (first[t]..first[t + 1]).for_each(take);
            }
            for k in (t + 1..n_regions).chain(0..t.min(n_regions)) {
                (first[k]..first[k + 1]).rev().for_each(take);
            }
        });
    }
}

/// Smallest part [`cut_regions`] cuts, in units. Each part starts a cold stream (its first tiles
/// are not prefetched), so parts stay large: parts of 4 units cost SmolLM2's decoding 5 %.
/// Smaller last parts let a thread that finishes first take more of the other's share (in the
/// forward pass on this shared machine the worker finished products 5-40 % later, means per
/// product over a run): with decoding's products timed per token and alternating between 32 and
/// 64 units within one process (2026-12-06), 32 took 0.991-1.002x the time on Gemma 3 (median
/// 0.994x, 6 runs) and 0.974-0.998x on SmolLM2 (4 runs); 16 about the same (0.985-1.006x, 5
/// runs), 8 mixed (0.96-1.01x); on 2026-12-07 (Gemma 3, tg128 at t=2, medians of 5 alternating
/// `emberlm bench` runs) 8 units 7 % slower than 32, and a smaller minimum for small products
/// only (total / 16 units, 4 to 32) 2.5 % slower.
#[cfg(feature = "std")]
const MIN_PART: usize = 32;

/// Cut `total` units into `n_regions` equal regions, and each region into parts that halve what
/// is left, down to [`MIN_PART`] units, within `budget` cuts: `part(k, units)` for every part,
/// region by region, in order.
#[cfg(feature = "std")]
fn cut_regions(total: usize, n_regions: usize, budget: usize, mut part: impl FnMut(usize, Range<usize>)) {
    for k in 0..n_regions {
        let (mut at, end) = (total * k / n_regions, total * (k + 1) / n_regions);
        for cut in 0..budget {
            let left = end - at;
            if left == 0 {
                break;
            }
            let n = if cut + 1 == budget || left <= 2 * MIN_PART { left } else { (left / 2).max(MIN_PART) };
            part(k, at..at + n);
            at += n;
        }
    }
}

/// Split `0..n` into `n_parts` nearly equal consecutive ranges and return range `i`.
pub fn part_of(n: usize, n_parts: usize, i: usize) -> Range<usize> {
    let n_parts = n_parts.max(1);
    (n * i / n_parts)..(n * (i + 1) / n_parts)
}

#[cfg(feature = "std")]
mod workers {
    use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::panic::{AssertUnwindSafe, catch_unwind};
    use std::sync::{Arc, Mutex};
    use std::thread::{self, JoinHandle, Thread};
    use std::time::{Duration, Instant};
    use std::vec::Vec;

    use crate::error::{Error, Result};

    /// How long an idle worker spins for the next job before it parks. Products of one decoding
    /// step follow each other within microseconds; a worker parked between them would cost a
    /// wake-up (tens of microseconds) per product.
    const SPIN: Duration = Duration::from_micros(300);

    /// A job as the workers see it. The lifetime is a lie that [`Workers::run`] makes true: it
    /// does not return (or unwind) before every worker that joined the job has left it, and no
    /// worker can join after that.
    type Job = &'static (dyn Fn(usize) + Sync + 'static);

    /// Cache-line aligned, so that the counters the caller and the workers write do not share
    /// a line.
    #[derive(Debug, Default)]
    #[repr(align(128))]
    struct Padded<T>(T);

    #[derive(Default)]
    struct Shared {
        /// Bumped once per job (and once at shutdown) to wake the workers.
        epoch: Padded<AtomicUsize>,
        /// Workers inside the current job.
        active: Padded<AtomicUsize>,
        /// The open job and its epoch; workers join it (incrementing `active`) under this lock,
        /// the caller closes it under this lock.
        job: Mutex<Option<(usize, Job)>>,
        panicked: AtomicBool,
        shutdown: AtomicBool,
    }

    impl core::fmt::Debug for Shared {
        fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
            f.debug_struct("Shared")
                .field("epoch", &self.epoch.0)
                .field("active", &self.active.0)
                .finish_non_exhaustive()
        }
    }

    #[derive(Debug)]
    struct Worker {
        thread: Thread,
        handle: Option<JoinHandle<()>>,
        sleeping: Arc<Padded<AtomicBool>>,
    }

    /// The persistent workers of a [`super::Pool`].
    #[derive(Debug)]
    pub(super) struct Workers {
        shared: Arc<Shared>,
        workers: Vec<Worker>,
    }

    impl Workers {
        pub(super) fn start(n: usize) -> Result<Self> {
            let shared = Arc::new(Shared::default());
            let mut this = Self { shared, workers: Vec::with_capacity(n) };
            for i in 0..n {
                let sleeping = Arc::new(Padded(AtomicBool::new(false)));
                let (s, z) = (Arc::clone(&this.shared), Arc::clone(&sleeping));
                let handle = thread::Builder::new()
                    .name(std::format!("emberlm-{}", i + 1))
                    .spawn(move || worker(i + 1, &s, &z.0))
                    .map_err(|e| Error::Unsupported { what: std::format!("starting a thread: {e}") })?;
                this.workers.push(Worker { thread: handle.thread().clone(), handle: Some(handle), sleeping });
            }
            Ok(this)
        }

        pub(super) fn run(&self, f: &(dyn Fn(usize) + Sync)) {
            let s = &*self.shared;
            // SAFETY: only the lifetime changes. The job is published below and withdrawn by
            // `Close::drop`, which runs before this function returns or unwinds: it removes the
            // job under the lock workers join under (so none joins later) and then waits until
            // every worker that joined has returned from it.
            let job: Job = unsafe { core::mem::transmute::<&(dyn Fn(usize) + Sync), Job>(f) };
            let epoch = s.epoch.0.load(Ordering::Relaxed).wrapping_add(1);
            {
                // The epoch is bumped before the lock is released: a worker that joins the job
                // (under this lock) then reads this epoch or a later one, never the previous
                // one, and so cannot mistake the job it has run for one it has not seen.
                let mut g = lock(&s.job);
                *g = Some((epoch, job));
                s.epoch.0.store(epoch, Ordering::SeqCst);
            }
            for w in &self.workers {
                if w.sleeping.0.load(Ordering::SeqCst) {
                    w.thread.unpark();
                }
            }
            let close = Close(s);
            f(0);
            drop(close);
            if s.panicked.swap(false, Ordering::Relaxed) {
                panic!("a thread of the emberlm pool panicked");
            }
        }
    }

    fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
        // Jobs run under catch_unwind, never while this lock is held: it cannot be poisoned
        // in a way that matters.
        m.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Closes the job and waits for the workers inside it, also when the caller's share panics.
    struct Close<'a>(&'a Shared);

    impl Drop for Close<'_> {
        fn drop(&mut self) {
            let s = self.0;
            *lock(&s.job) = None;
            let mut spins = 0u32;
            while s.active.0.load(Ordering::Acquire) != 0 {
                spins = spins.saturating_add(1);
                if spins < 1 << 14 {
                    core::hint::spin_loop();
                } else {
                    // A worker inside the job has been preempted; let it have a core.
                    thread::yield_now();
                }
            }
        }
    }

    impl Drop for Workers {
        fn drop(&mut self) {
            self.shared.shutdown.store(true, Ordering::SeqCst);
            self.shared.epoch.0.fetch_add(1, Ordering::SeqCst);
            for w in &mut self.workers {
                w.thread.unpark();
                if let Some(h) = w.handle.take() {
                    // A worker never panics (jobs run under catch_unwind).
                    let _ = h.join();
                }
            }
        }
    }

    fn worker(index: usize, s: &Shared, sleeping: &AtomicBool) {
        // The epoch the pool started with (a job may have been published before this thread
        // got to run).
        let mut seen = 0;
        loop {
            // Wait for the next epoch: spin, then park.
            let start = Instant::now();
            let mut spins = 0u32;
            let mut woken_by = s.epoch.0.load(Ordering::Acquire);
            while woken_by == seen {
                spins = spins.wrapping_add(1);
                if spins % 64 != 0 || start.elapsed() < SPIN {
                    core::hint::spin_loop();
                    woken_by = s.epoch.0.load(Ordering::Acquire);
                    continue;
                }
                sleeping.store(true, Ordering::SeqCst);
                if s.epoch.0.load(Ordering::SeqCst) == seen {
                    // An unpark between the check and here makes park return at once.
                    thread::park();
                }
                sleeping.store(false, Ordering::SeqCst);
                woken_by = s.epoch.0.load(Ordering::Acquire);
            }
            if s.shutdown.load(Ordering::SeqCst) {
                return;
            }
            // Join the open job, unless the caller has closed it already (it then did all the
            // work itself) or this worker ran it already.
            let job = {
                let g = lock(&s.job);
                match *g {
                    Some((epoch, job)) if epoch != seen => {
                        seen = epoch;
                        s.active.0.fetch_add(1, Ordering::AcqRel);
                        Some(job)
                    }
                    // The job this worker has run is still open: nothing new.
                    Some(_) => None,
                    // Remember the epoch that woke us, not a newer one: a job published
                    // since then must still be seen as new. (`seen` never goes back: a job is
                    // published with its epoch under this lock, so `woken_by`, read after this
                    // worker last joined, is at least the epoch it joined.)
                    None => {
                        seen = woken_by;
                        None
                    }
                }
            };
            if let Some(job) = job {
                if catch_unwind(AssertUnwindSafe(|| job(index))).is_err() {
                    s.panicked.store(true, Ordering::Relaxed);
                }
                s.active.0.fetch_sub(1, Ordering::Release);
            }
        }
    }
}

#[cfg(all(test, feature = "std"))]
mod tests {
    use alloc::vec;
    use alloc::vec::Vec;
    use core::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[test]
    fn broadcast_runs_each_index_at_most_once_and_the_caller_always() {
        for n in [1, 2, 3, 5] {
            let pool = Pool::new(n).unwrap();
            assert_eq!(pool.n_threads(), n);
            for _ in 0..200 {
                let hits: [AtomicUsize; 5] = Default::default();
                pool.broadcast(&|i| {
                    hits[i].fetch_add(1, Ordering::Relaxed);
                });
                assert_eq!(hits[0].load(Ordering::Relaxed), 1);
                for (i, h) in hits.iter().enumerate() {
                    assert!(h.load(Ordering::Relaxed) <= usize::from(i < n), "{n} threads, index {i}");
                }
            }
            // A caller that waits for the workers sees every one of them join.
            let joined = AtomicUsize::new(0);
            pool.broadcast(&|_| {
                joined.fetch_add(1, Ordering::SeqCst);
                while joined.load(Ordering::SeqCst) < n {
                    std::thread::yield_now();
                }
            });
        }
    }

    #[test]
    fn split_mut_covers_every_unit_once() {
        for n in [1, 2, 4] {
            let pool = Pool::new(n).unwrap();
            for (len, unit) in [(0, 1), (1, 1), (7, 1), (576, 1), (300, 3), (49152, 64), (4 * 1000, 4)] {
                let mut data = vec![0u32; len];
                pool.split_mut(&mut data, unit, &|units, part| {
                    assert_eq!(part.len(), units.len() * unit);
                    for (k, x) in part.iter_mut().enumerate() {
                        *x += (units.start * unit + k) as u32 + 1;
                    }
                });
                assert!(
                    data.iter().enumerate().all(|(k, &x)| x == k as u32 + 1),
                    "{n} threads, {len}/{unit}"
                );
            }
        }
    }

    #[test]
    fn split_many_mut_covers_every_unit_of_every_output_once() {
        for n in [1, 2, 3, 5] {
            let pool = Pool::new(n).unwrap();
            let shapes: [&[usize]; 6] =
                [&[0], &[1], &[8, 0, 16], &[1024, 256, 256], &[262_144], &[7, 3, 2, 1]];
            for (s, lens) in shapes.iter().enumerate() {
                for unit in [1, 8] {
                    let mut bufs: Vec<Vec<u32>> = lens.iter().map(|&l| vec![0; l * unit]).collect();
                    let mut outs: Vec<&mut [u32]> = bufs.iter_mut().map(|b| &mut b[..]).collect();
                    let parts = AtomicUsize::new(0);
                    pool.split_many_mut(&mut outs, unit, &|i, units, part| {
                        parts.fetch_add(1, Ordering::Relaxed);
                        assert_eq!(part.len(), units.len() * unit);
                        for (k, x) in part.iter_mut().enumerate() {
                            *x += ((i << 24) + units.start * unit + k) as u32 + 1;
                        }
                    });
                    assert!(parts.load(Ordering::Relaxed) <= MAX_PARTS);
                    for (i, b) in bufs.iter().enumerate() {
                        assert!(
                            b.iter().enumerate().all(|(k, &x)| x == ((i << 24) + k) as u32 + 1),
                            "{n} threads, shape {s}, unit {unit}, output {i}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn split_pair_mut_gives_both_outputs_the_same_parts_covering_every_unit_once() {
        for n in [1, 2, 3, 5] {
            let pool = Pool::new(n).unwrap();
            for (len_a, len_b, unit) in
                [(0, 0, 8), (8, 8, 8), (2048, 2048, 8), (2048, 2056, 8), (7, 9, 1), (96, 96, 8)]
            {
                let (mut a, mut b) = (vec![0u32; len_a], vec![0u32; len_b]);
                let parts = AtomicUsize::new(0);
                pool.split_pair_mut(&mut a, &mut b, unit, &|units, pa, pb| {
                    parts.fetch_add(1, Ordering::Relaxed);
                    assert_eq!((pa.len(), pb.len()), (units.len() * unit, units.len() * unit));
                    for (k, (x, y)) in pa.iter_mut().zip(pb.iter_mut()).enumerate() {
                        *x += (units.start * unit + k) as u32 + 1;
                        *y += (units.start * unit + k) as u32 + 1;
                    }
                });
                assert!(parts.load(Ordering::Relaxed) <= MAX_PARTS);
                let covered = len_a.min(len_b) / unit * unit;
                for v in [&a, &b] {
                    assert!(
                        v.iter().enumerate().all(|(k, &x)| x == if k < covered { k as u32 + 1 } else { 0 }),
                        "{n} threads, {len_a}/{len_b}/{unit}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_panic_in_a_worker_reaches_the_caller_and_the_pool_survives() {
        let pool = Pool::new(2).unwrap();
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let joined = AtomicUsize::new(0);
            pool.broadcast(&|i| {
                joined.fetch_add(1, Ordering::SeqCst);
                while joined.load(Ordering::SeqCst) < 2 {
                    std::thread::yield_now();
                }
                assert_ne!(i, 1, "worker panics");
            });
        }));
        assert!(r.is_err());
        let count = AtomicUsize::new(0);
        pool.broadcast(&|_| {
            count.fetch_add(1, Ordering::SeqCst);
            while count.load(Ordering::SeqCst) < 2 {
                std::thread::yield_now();
            }
        });
        assert_eq!(count.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn parts_tile_the_range() {
        for (n, p) in [(10, 3), (0, 2), (5, 8), (576, 2)] {
            let mut next = 0;
            for i in 0..p {
                let r = part_of(n, p, i);
                assert_eq!(r.start, next);
                next = r.end;
            }
            assert_eq!(next, n);
        }
    }
}
