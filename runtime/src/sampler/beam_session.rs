//! Beam search over a real [`Session`]: one KV cache per beam, one set of everything else.
//!
//! [`SessionBeams`] implements [`BeamModel`] for a session. Slot 0 is the session's own KV
//! cache; slots `1..width` are extra caches of the same shape (`width - 1` times
//! [`KvCache::bytes`] more memory, nothing else: the scratch buffers, the logits and the
//! thread pool are the session's). Stepping a slot swaps its cache into the session (a pointer
//! swap, no copy) and decodes one token; copying a slot copies the KV rows in use (`n_past`
//! positions, or the ring of a sliding-window layer) like llama.cpp's `llama_memory_seq_cp`.
//! `no_std` + `alloc`: firmware can run it with a session of its own.
//!
//! [`beam_search_session`] is the whole thing: prefill the prompt, search, return the
//! hypotheses. Afterwards the session holds the prompt followed by the tokens of one of the
//! last live beams (which one is unspecified): reset or truncate it before reusing it.

use alloc::vec::Vec;

use super::beam::{BeamError, BeamModel, BeamParams, BeamResult, beam_search};
use crate::error::{Error, Result};
use crate::kv::{KvBuf, KvCache};
use crate::session::Session;

/// A session seen as `width` beam slots (see the module docs).
#[derive(Debug)]
pub struct SessionBeams<'s, 'm, 'a> {
    session: &'s mut Session<'m, 'a>,
    /// The KV cache and `n_past` of every slot but the resident one (`None`: in the session).
    parked: Vec<Option<(KvCache, usize)>>,
    resident: usize,
}

fn bad_slot(slot: usize) -> Error {
    Error::Unsupported { what: alloc::format!("beam slot {slot} (out of range)") }
}

/// Copy the KV rows a context of `n_past` positions uses from `src` into `dst`.
fn copy_kv(src: &KvCache, n_past: usize, dst: &mut KvCache) -> Result<()> {
    let mismatch = || Error::InvalidOptions { why: "beam slots with KV caches of different shapes" };
    if src.ty() != dst.ty() || src.layers.len() != dst.layers.len() || n_past > dst.n_ctx() {
        return Err(mismatch());
    }
    for (s, d) in src.layers.iter().zip(dst.layers.iter_mut()) {
        if (s.k_dim, s.v_dim, s.cap) != (d.k_dim, d.v_dim, d.cap) {
            return Err(mismatch());
        }
        let used = n_past.min(s.cap);
        let cap = s.cap;
        match (&s.k, &mut d.k) {
            (KvBuf::F16(a), KvBuf::F16(b)) => b[..used * s.k_dim].copy_from_slice(&a[..used * s.k_dim]),
            (KvBuf::F32(a), KvBuf::F32(b)) => b[..used * s.k_dim].copy_from_slice(&a[..used * s.k_dim]),
            _ => return Err(mismatch()),
        }
        // values are transposed: `v_dim` rows of `cap` slots
        for row in 0..s.v_dim {
            let r = row * cap..row * cap + used;
            match (&s.v, &mut d.v) {
                (KvBuf::F16(a), KvBuf::F16(b)) => b[r.clone()].copy_from_slice(&a[r]),
                (KvBuf::F32(a), KvBuf::F32(b)) => b[r.clone()].copy_from_slice(&a[r]),
                _ => return Err(mismatch()),
            }
        }
    }
    Ok(())
}

impl<'s, 'm, 'a> SessionBeams<'s, 'm, 'a> {
    /// `width` slots over `session`; slot 0 is the session's current context, the others
    /// start empty. Allocates `width - 1` KV caches like the session's.
    pub fn new(session: &'s mut Session<'m, 'a>, width: usize) -> Result<Self> {
        let config = session.model().config();
        let (n_ctx, ty) = (session.n_ctx(), session.plan().kv_type);
        let mut parked = Vec::new();
        parked.try_reserve_exact(width.max(1)).map_err(|_| Error::OutOfMemory {
            bytes: width.saturating_mul(core::mem::size_of::<Option<(KvCache, usize)>>()),
            what: "the beam slots",
        })?;
        parked.push(None);
        for _ in 1..width {
            let mut kv = KvCache::new(config, n_ctx, ty)?;
            kv.set_ubatch(session.plan().n_batch);
            parked.push(Some((kv, 0)));
        }
        Ok(Self { session, parked, resident: 0 })
    }

    /// Number of slots.
    pub fn width(&self) -> usize {
        self.parked.len()
    }

    /// Positions in use in `slot`.
    pub fn n_past(&self, slot: usize) -> Option<usize> {
        if slot == self.resident {
            return Some(self.session.n_past());
        }
        self.parked.get(slot)?.as_ref().map(|p| p.1)
    }

    /// Swap `slot`'s cache into the session.
    fn make_resident(&mut self, slot: usize) -> Result<()> {
        if slot == self.resident {
            return Ok(());
        }
        let mut incoming = self.parked.get_mut(slot).and_then(Option::take).ok_or_else(|| bad_slot(slot))?;
        let (kv, n_past, _) = self.session.state_mut();
        core::mem::swap(kv, &mut incoming.0);
        core::mem::swap(n_past, &mut incoming.1);
        self.parked[self.resident] = Some(incoming);
        self.resident = slot;
        Ok(())
    }
}

impl BeamModel for SessionBeams<'_, '_, '_> {
    type Error = Error;

    fn step(&mut self, slot: usize, token: u32, logits: &mut Vec<f32>) -> Result<()> {
        self.make_resident(slot)?;
        let l = self.session.decode_step(token)?;
        logits.clear();
        logits.extend_from_slice(l);
        Ok(())
    }

    fn copy_slot(&mut self, src: usize, dst: usize) -> Result<()> {
        if src >= self.width() {
            return Err(bad_slot(src));
        }
        if dst >= self.width() {
            return Err(bad_slot(dst));
        }
        if src == dst {
            return Ok(());
        }
        if src == self.resident {
            let n_past = self.session.n_past();
            let Some((kv, past)) = self.parked[dst].as_mut() else { return Err(bad_slot(dst)) };
            copy_kv(self.session.kv_cache(), n_past, kv)?;
            *past = n_past;
        } else if dst == self.resident {
            let Some((kv, n_past)) = self.parked[src].as_ref() else { return Err(bad_slot(src)) };
            let (dkv, past, _) = self.session.state_mut();
            copy_kv(kv, *n_past, dkv)?;
            *past = *n_past;
        } else {
            let (lo, hi) = self.parked.split_at_mut(src.max(dst));
            let (a, b) = (&mut lo[src.min(dst)], &mut hi[0]);
            let (s, d) = if src < dst { (a, b) } else { (b, a) };
            let (Some((skv, n_past)), Some((dkv, past))) = (s.as_ref(), d.as_mut()) else {
                return Err(bad_slot(src));
            };
            copy_kv(skv, *n_past, dkv)?;
            *past = *n_past;
        }
        Ok(())
    }
}

/// Prefill `prompt` after the session's context, then run a beam search of `params` from
/// there (see the module docs for the session's state afterwards).
///
/// The context must hold the prompt and `max_tokens - 1` more positions (the last token of a
/// hypothesis is never run); otherwise this fails with [`Error::ContextOverflow`] before any
/// work. `width - 1` extra KV caches are allocated for the search and freed after it.
pub fn beam_search_session(
    session: &mut Session<'_, '_>,
    prompt: &[u32],
    params: &BeamParams,
) -> core::result::Result<BeamResult, BeamError<Error>> {
    if params.width == 0 {
        return Err(BeamError::ZeroWidth);
    }
    let need = prompt.len() + params.max_tokens.saturating_sub(1);
    if need > session.n_ctx() - session.n_past() {
        return Err(BeamError::Model(Error::ContextOverflow {
            n_ctx: session.n_ctx(),
            n_past: session.n_past(),
            n_tokens: need,
        }));
    }
    let mut beams = SessionBeams::new(session, params.width).map_err(BeamError::Model)?;
    let first = beams.session.prefill(prompt).map_err(BeamError::Model)?.to_vec();
    beam_search(&mut beams, &first, params)
}
