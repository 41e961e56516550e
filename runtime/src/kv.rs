//! The KV cache: per layer, the keys and values of the positions the layer attends to, in f16
//! (default, as llama.cpp), f32 or q8_0.
//!
//! Each layer holds `cap` slots and position `p` lives in slot `p % cap`. A full-attention layer
//! has `cap = n_ctx` (slot = position). A sliding-window layer of window `W` is a ring buffer of
//! `cap = min(W, n_ctx)` slots: memory is bounded by the window whatever the context, and after
//! position `p` is stored its slots hold exactly the positions `p - W + 1 ..= p` that llama.cpp's
//! mask leaves visible (`p - p0 < W`), so attention reads slots `0..min(p + 1, cap)` with no mask.
//! (The order of the slots differs from the order of the positions once the ring wraps, and from
//! the order of the cells llama.cpp's own sliding-window cache keeps them in; attention sums in
//! the latter order, see [`crate::cells`].)
//!
//! Layout, as llama.cpp's non-flash-attention cache: keys slot-major (`[slot][kv_head][dim]`),
//! values transposed (`[kv_head * dim][slot]`) so that the attention-weighted sum of the values is
//! one dot product over slots per output value.
//!
//! q8_0 (`--cache-type q8_0`, as llama.cpp's `-ctk q8_0 -ctv q8_0`): keys **and values** slot-major
//! in blocks of 32 values along the head dimension (a head is a whole number of blocks, so head
//! sizes must be multiples of 32), 34 bytes per 32 values instead of 64. Values cannot be
//! transposed in blocks that are written one slot at a time; llama.cpp likewise keeps a quantized
//! V cache untransposed (it requires flash attention for one). Keys and values are quantized as llama.cpp's x86-64
//! `set_rows` quantizes them (`from_float`: its AVX2 `quantize_row_q8_0`, the activation
//! quantizer [`quantize_activations`]), not with the weights' `_ref` rounding.

use alloc::vec::Vec;

use emberlm_models::ModelConfig;
use emberlm_models::arch::Attention;
use emberlm_quant::formats::f16::f32_to_f16;
use emberlm_quant::formats::q8_0::{BlockQ8_0, Q8_0, quantize_activations};
use emberlm_quant::{Format, Kernels};
use half::f16;

use crate::cells::{CellOrder, cell_order, cell_span, swa_cells};
use crate::error::{Result, zeroed};

/// llama.cpp's default `n_ubatch`, which places the positions of its sliding-window cache.
pub const DEFAULT_UBATCH: usize = 512;

/// Element type of the KV cache.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum KvType {
    /// IEEE half precision (llama.cpp's default `--cache-type-k/v f16`).
    #[default]
    F16,
    /// Single precision.
    F32,
    /// GGUF's `Q8_0`: blocks of 32 values, one f16 scale and 32 `i8` (34 bytes per 32 values).
    Q8_0,
}

impl KvType {
    /// Bytes of `n` cached values (for q8_0, `n` is a multiple of 32 in every cache).
    pub const fn row_bytes(self, n: usize) -> usize {
        match self {
            Self::F16 => 2 * n,
            Self::F32 => 4 * n,
            Self::Q8_0 => n.div_ceil(32) * core::mem::size_of::<BlockQ8_0>(),
        }
    }

    /// The name `--cache-type` uses: `f16`, `f32`, `q8_0`.
    pub const fn name(self) -> &'static str {
        match self {
            Self::F16 => "f16",
            Self::F32 => "f32",
            Self::Q8_0 => "q8_0",
        }
    }

    /// Parse a `--cache-type` name.
    pub fn from_name(name: &str) -> Option<Self> {
        [Self::F16, Self::F32, Self::Q8_0].into_iter().find(|t| t.name().eq_ignore_ascii_case(name.trim()))
    }
}

/// `n` zero q8_0 blocks, or an out-of-memory error naming `what`.
pub(crate) fn zeroed_q8_0(n: usize, what: &'static str) -> Result<Vec<BlockQ8_0>> {
    let mut v = Vec::new();
    let bytes = n.saturating_mul(core::mem::size_of::<BlockQ8_0>());
    v.try_reserve_exact(n).map_err(|_| crate::Error::OutOfMemory { bytes, what })?;
    v.resize(n, BlockQ8_0 { d: f16::ZERO, qs: [0; 32] });
    Ok(v)
}

/// Storage of one layer's keys or values.
#[derive(Clone, Debug)]
pub(crate) enum KvBuf {
    F16(Vec<f16>),
    F32(Vec<f32>),
    /// Slot-major rows of q8_0 blocks, keys and values alike.
    Q8_0(Vec<BlockQ8_0>),
}

impl KvBuf {
    fn new(ty: KvType, n: usize) -> Result<Self> {
        Ok(match ty {
            KvType::F16 => Self::F16(zeroed(n, "the KV cache")?),
            KvType::F32 => Self::F32(zeroed(n, "the KV cache")?),
            KvType::Q8_0 => Self::Q8_0(zeroed_q8_0(n / Q8_0::ELEMS, "the KV cache")?),
        })
    }

    fn set(&mut self, i: usize, v: f32) {
        match self {
            Self::F16(b) => b[i] = f32_to_f16(v),
            Self::F32(b) => b[i] = v,
            // Unreachable: q8_0 rows are stored whole (`KvCache::store`).
            Self::Q8_0(_) => {}
        }
    }

    /// `copy_within` on the f16/f32 values (q8_0 buffers move whole blocks, by their callers).
    fn copy_slots(&mut self, src: core::ops::Range<usize>, dst: usize) {
        match self {
            Self::F16(b) => b.copy_within(src, dst),
            Self::F32(b) => b.copy_within(src, dst),
            Self::Q8_0(_) => {}
        }
    }

    /// `rotate_left(by)` of the f16/f32 values `range`.
    fn rotate_slots(&mut self, range: core::ops::Range<usize>, by: usize) {
        match self {
            Self::F16(b) => b[range].rotate_left(by),
            Self::F32(b) => b[range].rotate_left(by),
            Self::Q8_0(_) => {}
        }
    }

    /// Little-endian bytes of values `range` (in blocks for q8_0).
    fn save(&self, range: core::ops::Range<usize>, out: &mut Vec<u8>) {
        match self {
            Self::F16(b) => b[range].iter().for_each(|x| out.extend_from_slice(&x.to_bits().to_le_bytes())),
            Self::F32(b) => b[range].iter().for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
            Self::Q8_0(b) => out.extend_from_slice(bytemuck::cast_slice(&b[range])),
        }
    }

    /// Restore values (blocks for q8_0) from `start` on from the bytes of [`KvBuf::save`].
    fn load(&mut self, src: &[u8], start: usize) {
        match self {
            Self::F16(b) => {
                for (d, s) in b[start..].iter_mut().zip(src.chunks_exact(2)) {
                    *d = f16::from_bits(u16::from_le_bytes([s[0], s[1]]));
                }
            }
            Self::F32(b) => {
                for (d, s) in b[start..].iter_mut().zip(src.chunks_exact(4)) {
                    *d = f32::from_le_bytes([s[0], s[1], s[2], s[3]]);
                }
            }
            Self::Q8_0(b) => {
                let size = core::mem::size_of::<BlockQ8_0>();
                for (d, s) in b[start..].iter_mut().zip(src.chunks_exact(size)) {
                    *d = bytemuck::pod_read_unaligned(s);
                }
            }
        }
    }
}

/// Keys and values of one layer.
#[derive(Clone, Debug)]
pub(crate) struct LayerKv {
    /// `cap * k_dim`, slot-major.
    pub(crate) k: KvBuf,
    /// `v_dim * cap`, transposed.
    pub(crate) v: KvBuf,
    pub(crate) k_dim: usize,
    pub(crate) v_dim: usize,
    /// Slots: `n_ctx`, or the window of a sliding-window layer if smaller.
    pub(crate) cap: usize,
}

impl LayerKv {
    /// Slots holding the positions visible from `pos` (once `pos` is stored): `0..n`.
    pub(crate) fn n_visible(&self, pos: usize) -> usize {
        (pos + 1).min(self.cap)
    }

    /// Bytes [`LayerKv::save`] writes for the first `used` slots.
    pub(crate) fn saved_bytes(&self, ty: KvType, used: usize) -> usize {
        used * (ty.row_bytes(self.k_dim) + ty.row_bytes(self.v_dim))
    }

    /// Append the keys, then the values, of slots `0..used`: for f16/f32 the keys slot-major
    /// and the values row by row (each row's `used` slots); for q8_0 both slot-major blocks.
    pub(crate) fn save(&self, used: usize, out: &mut Vec<u8>) {
        if let KvBuf::Q8_0(_) = self.k {
            self.k.save(0..used * self.k_dim / Q8_0::ELEMS, out);
            self.v.save(0..used * self.v_dim / Q8_0::ELEMS, out);
            return;
        }
        self.k.save(0..used * self.k_dim, out);
        for row in 0..self.v_dim {
            self.v.save(row * self.cap..row * self.cap + used, out);
        }
    }

    /// Restore what [`LayerKv::save`] wrote (`src` holds exactly
    /// [`LayerKv::saved_bytes`] bytes).
    pub(crate) fn load(&mut self, ty: KvType, used: usize, src: &[u8]) {
        let (kb, vrow) = (ty.row_bytes(used * self.k_dim), ty.row_bytes(used));
        let (k, v) = src.split_at(kb.min(src.len()));
        self.k.load(k, 0);
        if ty == KvType::Q8_0 {
            self.v.load(v, 0);
            return;
        }
        for (row, chunk) in v.chunks_exact(vrow.max(1)).enumerate().take(self.v_dim) {
            self.v.load(chunk, row * self.cap);
        }
    }
}

/// The KV cache of a session: `n_ctx` positions in every full-attention layer, the last
/// `window` positions in every sliding-window layer.
#[derive(Clone, Debug)]
pub struct KvCache {
    ty: KvType,
    n_ctx: usize,
    /// llama.cpp's ubatch size, which places its sliding-window cache's cells.
    n_ubatch: usize,
    pub(crate) layers: Vec<LayerKv>,
}

impl KvCache {
    /// Allocate a cache of `n_ctx` positions for `config` (sizes: [`KvCache::bytes`]).
    pub fn new(config: &ModelConfig, n_ctx: usize, ty: KvType) -> Result<Self> {
        if ty == KvType::Q8_0 && (config.head_dim % Q8_0::ELEMS != 0 || config.head_dim_v % Q8_0::ELEMS != 0)
        {
            return Err(crate::Error::InvalidOptions {
                why: "a q8_0 KV cache needs key and value head sizes that are multiples of 32",
            });
        }
        let mut layers = Vec::new();
        layers.try_reserve_exact(config.n_layer()).map_err(|_| crate::Error::OutOfMemory {
            bytes: config.n_layer() * core::mem::size_of::<LayerKv>(),
            what: "the KV cache",
        })?;
        for il in 0..config.n_layer() {
            let (k_dim, v_dim) = (config.k_dim(il), config.v_dim(il));
            let cap = Self::slots(config, il, n_ctx);
            layers.push(LayerKv {
                k: KvBuf::new(ty, cap * k_dim)?,
                v: KvBuf::new(ty, cap * v_dim)?,
                k_dim,
                v_dim,
                cap,
            });
        }
        Ok(Self { ty, n_ctx, n_ubatch: DEFAULT_UBATCH, layers })
    }

    /// Sum attention over the ring buffers in the cell order of llama.cpp's sliding-window cache
    /// for ubatches of `n_ubatch` tokens (its `-ub`; [`KvCache::new`] assumes llama.cpp's default,
    /// 512). See [`crate::cells`].
    pub fn set_ubatch(&mut self, n_ubatch: usize) {
        self.n_ubatch = n_ubatch.max(1);
    }

    /// llama.cpp's cell order of the slots of layer `il` visible from `pos` (`None`: the slot
    /// order; always for a layer without a ring).
    pub(crate) fn cell_order(&self, il: usize, pos: usize) -> Option<CellOrder> {
        let cap = self.layers[il].cap;
        (cap < self.n_ctx).then(|| cell_order(pos, cap, swa_cells(cap, self.n_ctx, self.n_ubatch)))?
    }

    /// The most virtual indices (a multiple of 32) [`KvCache::cell_order`] uses in any ring
    /// of a cache of `n_ctx` positions for `config`: 0 without rings.
    pub(crate) fn max_cell_span(config: &ModelConfig, n_ctx: usize) -> usize {
        (0..config.n_layer())
            .map(|il| Self::slots(config, il, n_ctx))
            .filter(|&cap| cap < n_ctx)
            .map(cell_span)
            .max()
            .unwrap_or(0)
    }

    /// Slots of layer `il` in a context of `n_ctx`.
    pub fn slots(config: &ModelConfig, il: usize, n_ctx: usize) -> usize {
        match config.layers[il].attention {
            Attention::Full => n_ctx,
            Attention::SlidingWindow(w) => n_ctx.min(w.max(1)),
        }
    }

    /// Bytes a cache of `n_ctx` positions needs for `config` (sliding-window layers keep their
    /// window only).
    pub fn bytes(config: &ModelConfig, n_ctx: usize, ty: KvType) -> usize {
        (0..config.n_layer())
            .map(|il| {
                Self::slots(config, il, n_ctx)
                    * (ty.row_bytes(config.k_dim(il)) + ty.row_bytes(config.v_dim(il)))
            })
            .sum()
    }

    /// Bytes a naive cache holding all `n_ctx` positions in every layer would need.
    pub fn bytes_full(config: &ModelConfig, n_ctx: usize, ty: KvType) -> usize {
        (0..config.n_layer())
            .map(|il| n_ctx * (ty.row_bytes(config.k_dim(il)) + ty.row_bytes(config.v_dim(il))))
            .sum()
    }

    /// Whether a cache holding positions `0..n_past` still holds everything a context truncated
    /// to `n` positions attends to: false when a sliding-window ring has already overwritten a
    /// position of the window before `n` with one at or after `n` (rewinding by one position is
    /// always possible).
    pub fn can_truncate(&self, n_past: usize, n: usize) -> bool {
        self.layers.iter().all(|l| {
            // Position q < n (needed while q > n - cap) shares its slot with q + cap, written if
            // q + cap < n_past. The smallest such q + cap is max(n + 1, cap).
            n == 0 || l.cap <= 1 || l.cap >= self.n_ctx || n_past <= (n + 1).max(l.cap)
        })
    }

    /// Whether [`KvCache::shift`] can drop positions `n_keep..n_keep + n_discard` of `n_past`:
    /// a sliding-window ring smaller than the context must hold no sink after the shift (its new
    /// window starts at or after `n_keep`), as its slots are rolled as a whole.
    pub(crate) fn can_shift(&self, n_past: usize, n_keep: usize, n_discard: usize) -> bool {
        let new_past = n_past - n_discard;
        self.layers.iter().all(|l| l.cap >= self.n_ctx || new_past >= n_keep + l.cap)
    }

    /// Drop positions `n_keep..n_keep + d` of the `n_past` in use: every later position `p`
    /// becomes `p - d`, its key re-rotated by `rerotate(layer, key)` (a RoPE rotation by `-d`;
    /// `key` is one slot's `k_dim` values, widened to f32 in `tmp` and stored back in the cache's
    /// type). A full-attention layer moves those slots down by `d`; a sliding-window ring (which
    /// [`KvCache::can_shift`] says holds only such positions) rolls its slots by `d` so that
    /// position `p - d` sits in slot `(p - d) % cap` again.
    pub(crate) fn shift(
        &mut self,
        n_past: usize,
        n_keep: usize,
        d: usize,
        tmp: &mut [f32],
        mut rerotate: impl FnMut(usize, &mut [f32]),
    ) {
        let new_past = n_past - d;
        for (il, l) in self.layers.iter_mut().enumerate() {
            let (cap, kd, vd) = (l.cap, l.k_dim, l.v_dim);
            let slots = if cap >= self.n_ctx {
                // Slot = position: move the kept tail down by d.
                let (src, dst) = (n_keep + d..n_past, n_keep);
                match (&mut l.k, &mut l.v) {
                    (KvBuf::Q8_0(k), KvBuf::Q8_0(v)) => {
                        let (bk, bv) = (kd / Q8_0::ELEMS, vd / Q8_0::ELEMS);
                        k.copy_within(src.start * bk..src.end * bk, dst * bk);
                        v.copy_within(src.start * bv..src.end * bv, dst * bv);
                    }
                    (k, v) => {
                        k.copy_slots(src.start * kd..src.end * kd, dst * kd);
                        for row in 0..vd {
                            v.copy_slots(row * cap + src.start..row * cap + src.end, row * cap + dst);
                        }
                    }
                }
                n_keep..new_past
            } else {
                // The ring holds positions new_past + d - cap .. new_past + d, all moving: roll.
                let r = d % cap;
                match (&mut l.k, &mut l.v) {
                    (KvBuf::Q8_0(k), KvBuf::Q8_0(v)) => {
                        k.rotate_left(r * (kd / Q8_0::ELEMS));
                        v.rotate_left(r * (vd / Q8_0::ELEMS));
                    }
                    (k, v) => {
                        k.rotate_slots(0..cap * kd, r * kd);
                        for row in 0..vd {
                            v.rotate_slots(row * cap..(row + 1) * cap, r);
                        }
                    }
                }
                0..cap.min(new_past)
            };
            let tmp = &mut tmp[..kd];
            for slot in slots {
                let rng = slot * kd..(slot + 1) * kd;
                match &mut l.k {
                    KvBuf::F16(k) => {
                        k[rng.clone()].iter().zip(tmp.iter_mut()).for_each(|(s, d)| *d = s.to_f32())
                    }
                    KvBuf::F32(k) => tmp.copy_from_slice(&k[rng.clone()]),
                    KvBuf::Q8_0(k) => {
                        Q8_0::dequantize(&k[rng.start / Q8_0::ELEMS..rng.end / Q8_0::ELEMS], tmp)
                    }
                }
                rerotate(il, tmp);
                match &mut l.k {
                    KvBuf::F16(k) => k[rng].iter_mut().zip(tmp.iter()).for_each(|(d, &s)| *d = f32_to_f16(s)),
                    KvBuf::F32(k) => k[rng].copy_from_slice(tmp),
                    KvBuf::Q8_0(k) => {
                        quantize_activations(tmp, &mut k[rng.start / Q8_0::ELEMS..rng.end / Q8_0::ELEMS])
                    }
                }
            }
        }
    }

    /// A cache of one f16 layer of `cap` slots (a ring when `cap < n_ctx`), for tests.
    #[cfg(test)]
    pub(crate) fn one_layer(n_ctx: usize, n_ubatch: usize, cap: usize, k_dim: usize, v_dim: usize) -> Self {
        let ty = KvType::F16;
        let layer = LayerKv {
            k: KvBuf::new(ty, cap * k_dim).unwrap(),
            v: KvBuf::new(ty, cap * v_dim).unwrap(),
            k_dim,
            v_dim,
            cap,
        };
        Self { ty, n_ctx, n_ubatch, layers: alloc::vec![layer] }
    }

    /// Element type.
    pub fn ty(&self) -> KvType {
        self.ty
    }

    /// Positions per layer.
    pub fn n_ctx(&self) -> usize {
        self.n_ctx
    }

    /// Store the key `k` (`k_dim` values) and value `v` (`v_dim` values) of layer `il` at `pos`
    /// (in slot `pos % cap`).
    pub(crate) fn store(&mut self, kernels: &Kernels, il: usize, pos: usize, k: &[f32], v: &[f32]) {
        let l = &mut self.layers[il];
        let (cap, slot) = (l.cap, pos % l.cap);
        if let (KvBuf::Q8_0(kb), KvBuf::Q8_0(vb)) = (&mut l.k, &mut l.v) {
            let (nk, nv) = (l.k_dim / Q8_0::ELEMS, l.v_dim / Q8_0::ELEMS);
            quantize_activations(&k[..l.k_dim], &mut kb[slot * nk..(slot + 1) * nk]);
            quantize_activations(&v[..l.v_dim], &mut vb[slot * nv..(slot + 1) * nv]);
            return;
        }
        if let (KvBuf::F16(kb), KvBuf::F16(vb)) = (&mut l.k, &mut l.v) {
            // f16 conversions by the tier's kernel (the same bits as `f32_to_f16`); the values
            // are stored transposed, so they are converted a chunk at a time on the stack
            (kernels.quantize_f16)(&k[..l.k_dim], &mut kb[slot * l.k_dim..(slot + 1) * l.k_dim]);
            let mut chunk = [f16::ZERO; 64];
            for (c, vs) in v[..l.v_dim].chunks(chunk.len()).enumerate() {
                (kernels.quantize_f16)(vs, &mut chunk[..vs.len()]);
                for (i, &h) in chunk[..vs.len()].iter().enumerate() {
                    vb[(c * 64 + i) * cap + slot] = h;
                }
            }
            return;
        }
        for (i, &x) in k.iter().enumerate().take(l.k_dim) {
            l.k.set(slot * l.k_dim + i, x);
        }
        for (i, &x) in v.iter().enumerate().take(l.v_dim) {
            l.v.set(i * cap + slot, x);
        }
    }
}
