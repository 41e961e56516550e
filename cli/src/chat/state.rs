//! `/save FILE` and `/load FILE`: a whole chat session in one file.
//!
//! Layout: the magic `EMBERCHAT1\n`, a little-endian `u64` length and that many bytes of JSON
//! (system prompt, messages, the tokens in the KV cache, model fingerprint), then the session
//! state of [`emberlm::Session::save_state`] (KV cache, `n_past`, logits).
use std::path::Path;

use emberlm::chat::Message;
use serde_json::json;

use super::engine::Conversation;

const MAGIC: &[u8] = b"EMBERCHAT1\n";

fn fingerprint(conv: &Conversation<'_, '_, '_>) -> serde_json::Value {
    let c = conv.session.model().config();
    json!({"n_vocab": c.n_vocab, "n_layer": c.n_layer(), "n_ctx": conv.session.n_ctx()})
}

/// Write the session to `path`; returns the number of tokens in the context.
pub fn save(conv: &Conversation<'_, '_, '_>, path: &Path) -> Result<usize, String> {
    let head = json!({
        "system": conv.system,
        "messages": conv.turns.iter().map(|m| json!({"role": m.role, "content": m.content})).collect::<Vec<_>>(),
        "tokens": conv.cached,
        "model": fingerprint(conv),
    });
    let head = serde_json::to_vec(&head).map_err(|e| e.to_string())?;
    let mut bytes = Vec::with_capacity(MAGIC.len() + 8 + head.len());
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(&(head.len() as u64).to_le_bytes());
    bytes.extend_from_slice(&head);
    bytes.extend_from_slice(&conv.session.save_state());
    std::fs::write(path, &bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(conv.cached.len())
}

/// Replace the conversation with the one saved in `path`. Nothing changes on error.
pub fn load(conv: &mut Conversation<'_, '_, '_>, path: &Path) -> Result<(), String> {
    let p = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| format!("{p}: {e}"))?;
    let bad = |why: &str| format!("{p}: not an emberlm chat session ({why})");
    let rest = bytes.strip_prefix(MAGIC).ok_or_else(|| bad("wrong magic"))?;
    let (len, rest) = rest.split_first_chunk::<8>().ok_or_else(|| bad("truncated"))?;
    let len = usize::try_from(u64::from_le_bytes(*len)).map_err(|_| bad("bad header length"))?;
    if len > rest.len() {
        return Err(bad("truncated header"));
    }
    let (head, state) = rest.split_at(len);
    let head: serde_json::Value = serde_json::from_slice(head).map_err(|e| bad(&e.to_string()))?;
    if head["model"] != fingerprint(conv) {
        return Err(format!(
            "{p} was saved with another model or context size ({}), this session is {}",
            head["model"],
            fingerprint(conv)
        ));
    }
    let system = match &head["system"] {
        serde_json::Value::Null => None,
        v => Some(v.as_str().ok_or_else(|| bad("system is not a string"))?.to_string()),
    };
    let mut turns = Vec::new();
    for m in head["messages"].as_array().ok_or_else(|| bad("no messages"))? {
        let (Some(role), Some(content)) = (m["role"].as_str(), m["content"].as_str()) else {
            return Err(bad("bad message"));
        };
        turns.push(Message::new(role, content));
    }
    let n_vocab = conv.session.model().config().n_vocab;
    let tokens: Vec<u32> = head["tokens"]
        .as_array()
        .ok_or_else(|| bad("no tokens"))?
        .iter()
        .map(|t| t.as_u64().and_then(|t| u32::try_from(t).ok()).filter(|&t| (t as usize) < n_vocab))
        .collect::<Option<_>>()
        .ok_or_else(|| bad("bad token"))?;
    conv.session.load_state(state).map_err(|e| format!("{p}: {e}"))?;
    if conv.session.n_past() != tokens.len() {
        conv.session.reset();
        conv.cached.clear();
        return Err(bad("the token list and the KV cache disagree"));
    }
    conv.system = system;
    conv.turns = turns;
    conv.cached = tokens;
    Ok(())
}
