//! Saving and restoring a [`Session`]'s state: the KV cache of the positions in use, `n_past`
//! and the last logits, so that a conversation can continue later without running its tokens
//! again. `no_std` + `alloc`: the state is a byte vector the caller stores anywhere (a file, flash).
//!
//! Layout (little-endian): magic `EMBKVST1`, `u32` KV type (0 f16, 1 f32, 2 q8_0), `u32` layer
//! count, `u64` n_vocab, `u64` n_past, per layer `u64` k_dim, `u64` v_dim and `u64` slots; then per
//! layer the keys of the slots in use (`min(n_past, slots)`, slot-major) and, per value row, the
//! values of those slots (q8_0: the values' blocks slot-major, as stored); then the `n_vocab`
//! logits as f32. Slots, not positions, are saved, so the
//! ring buffers of sliding-window layers come back exactly as they were. A state only loads into
//! a session of the same model shape, KV type and slot counts whose context holds `n_past`.

use alloc::vec::Vec;
use core::fmt;

use crate::kv::KvType;
use crate::session::Session;

const MAGIC: &[u8; 8] = b"EMBKVST1";

/// Why a saved state cannot be loaded. The session is left unchanged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StateError {
    /// Not a state written by [`Session::save_state`] (or a damaged one).
    Format(&'static str),
    /// Saved from a session of another model shape or KV type.
    Mismatch(&'static str),
    /// More positions than this session's context holds.
    TooLong { n_past: usize, n_ctx: usize },
}

impl fmt::Display for StateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Format(why) => write!(f, "not a session state: {why}"),
            Self::Mismatch(what) => {
                write!(f, "the session state is for another model or cache ({what} differs)")
            }
            Self::TooLong { n_past, n_ctx } => {
                write!(f, "the session state holds {n_past} positions, the context only {n_ctx}")
            }
        }
    }
}

impl core::error::Error for StateError {}

fn kv_code(t: KvType) -> u32 {
    match t {
        KvType::F16 => 0,
        KvType::F32 => 1,
        KvType::Q8_0 => 2,
    }
}

struct Reader<'b> {
    bytes: &'b [u8],
}

impl<'b> Reader<'b> {
    fn take(&mut self, n: usize) -> Result<&'b [u8], StateError> {
        if n > self.bytes.len() {
            return Err(StateError::Format("truncated"));
        }
        let (a, b) = self.bytes.split_at(n);
        self.bytes = b;
        Ok(a)
    }
    fn u32(&mut self) -> Result<u32, StateError> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().map_err(|_| StateError::Format("truncated"))?))
    }
    fn u64(&mut self) -> Result<usize, StateError> {
        let v = u64::from_le_bytes(self.take(8)?.try_into().map_err(|_| StateError::Format("truncated"))?);
        usize::try_from(v).map_err(|_| StateError::Format("size overflows"))
    }
}

impl Session<'_, '_> {
    /// The session's state (KV cache of the positions in use, `n_past`, last logits) as bytes
    /// for [`Session::load_state`].
    pub fn save_state(&self) -> Vec<u8> {
        let kv = self.kv_cache();
        let n_past = self.n_past();
        let logits = self.logits();
        let mut out = Vec::new();
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&kv_code(kv.ty()).to_le_bytes());
        out.extend_from_slice(&(kv.layers.len() as u32).to_le_bytes());
        out.extend_from_slice(&(logits.len() as u64).to_le_bytes());
        out.extend_from_slice(&(n_past as u64).to_le_bytes());
        for l in &kv.layers {
            out.extend_from_slice(&(l.k_dim as u64).to_le_bytes());
            out.extend_from_slice(&(l.v_dim as u64).to_le_bytes());
            out.extend_from_slice(&(l.cap as u64).to_le_bytes());
        }
        for l in &kv.layers {
            l.save(n_past.min(l.cap), &mut out);
        }
        logits.iter().for_each(|x| out.extend_from_slice(&x.to_le_bytes()));
        out
    }

    /// Restore a state from [`Session::save_state`]. Everything is checked before anything
    /// changes: on error the session is as it was.
    pub fn load_state(&mut self, bytes: &[u8]) -> Result<(), StateError> {
        let mut r = Reader { bytes };
        if r.take(8)? != MAGIC {
            return Err(StateError::Format("wrong magic"));
        }
        let (kv, _, logits) = self.state_mut();
        if r.u32()? != kv_code(kv.ty()) {
            return Err(StateError::Mismatch("KV cache type"));
        }
        if r.u32()? as usize != kv.layers.len() {
            return Err(StateError::Mismatch("layer count"));
        }
        if r.u64()? != logits.len() {
            return Err(StateError::Mismatch("vocabulary size"));
        }
        let n_past = r.u64()?;
        let n_ctx = kv.n_ctx();
        if n_past > n_ctx {
            return Err(StateError::TooLong { n_past, n_ctx });
        }
        for l in &kv.layers {
            if r.u64()? != l.k_dim || r.u64()? != l.v_dim {
                return Err(StateError::Mismatch("layer shape"));
            }
            if r.u64()? != l.cap {
                return Err(StateError::Mismatch("slot count"));
            }
        }
        let ty = kv.ty();
        let data: usize = kv.layers.iter().map(|l| l.saved_bytes(ty, n_past.min(l.cap))).sum();
        if r.bytes.len() != data + logits.len() * 4 {
            return Err(StateError::Format("wrong length"));
        }
        // Checked: now copy.
        let (kv, past, logits) = self.state_mut();
        for l in &mut kv.layers {
            let used = n_past.min(l.cap);
            let src = r.take(l.saved_bytes(ty, used))?;
            l.load(ty, used, src);
        }
        for (d, s) in logits.iter_mut().zip(r.bytes.chunks_exact(4)) {
            *d = f32::from_le_bytes([s[0], s[1], s[2], s[3]]);
        }
        *past = n_past;
        Ok(())
    }
}
