//! The conversation: messages, the tokens held in the session's KV cache, and one turn of
//! generation. No terminal or JSON here: text and notices go to a [`Sink`].
//!
//! Each turn renders the whole conversation with the chat template, tokenizes it, keeps the
//! longest common prefix with the tokens already in the KV cache (rewinding the session to it)
//! and prefills only the rest: usually just the new user message, plus whatever of the previous
//! reply re-tokenizes differently. When the rendered conversation no longer fits, the oldest
//! turns are dropped (the system prompt stays) and the sink is told.
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use emberlm::Session;
use emberlm::chat::{ChatTemplate, Message};
use emberlm::sampler::SamplerChain;
use emberlm::tokenizer::{DecodeOptions, Tokenizer};

/// Where a turn's output goes.
pub trait Sink {
    /// Text of the reply that became final (stop strings held back until they cannot match).
    fn text(&mut self, text: &str, token: u32);
    /// A notice for the user (dropped turns, full context).
    fn info(&mut self, message: &str);
}

/// Why a reply ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndReason {
    /// The model emitted an end-of-generation token.
    Eog,
    /// A stop string appeared (it is not part of the reply).
    Stop,
    /// `--n-predict` tokens were generated.
    Length,
    /// Ctrl-C.
    Interrupted,
    /// The context is full.
    ContextFull,
}

impl EndReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Eog => "eog",
            Self::Stop => "stop",
            Self::Length => "length",
            Self::Interrupted => "interrupted",
            Self::ContextFull => "context_full",
        }
    }
}

/// What one turn did.
#[derive(Clone, Debug, Default)]
pub struct TurnStats {
    /// Tokens of the rendered conversation.
    pub prompt_tokens: usize,
    /// Of which already in the KV cache.
    pub reused: usize,
    /// Of which run now.
    pub prefilled: usize,
    /// Tokens sampled.
    pub generated: usize,
    pub prefill_s: f64,
    pub decode_s: f64,
    /// Oldest turns dropped to make room.
    pub dropped_turns: usize,
}

/// Settings of a conversation.
#[derive(Clone, Debug, Default)]
pub struct Settings {
    /// Most tokens per reply (0: until the context is full).
    pub n_predict: usize,
    pub stops: Vec<String>,
}

pub struct Conversation<'s, 'm, 'a> {
    pub session: Session<'m, 'a>,
    tok: &'s Tokenizer,
    template: ChatTemplate,
    sampler: SamplerChain,
    settings: Settings,
    /// The system prompt, if any.
    pub system: Option<String>,
    /// User and assistant messages, oldest first.
    pub turns: Vec<Message>,
    /// The tokens in the session's KV cache (`session.n_past()` of them).
    pub cached: Vec<u32>,
}

impl<'s, 'm, 'a> Conversation<'s, 'm, 'a> {
    pub fn new(
        session: Session<'m, 'a>,
        tok: &'s Tokenizer,
        template: ChatTemplate,
        sampler: SamplerChain,
        settings: Settings,
        system: Option<String>,
    ) -> Self {
        Self { session, tok, template, sampler, settings, system, turns: Vec::new(), cached: Vec::new() }
    }

    /// Forget the conversation (the system prompt stays).
    pub fn reset(&mut self) {
        self.turns.clear();
        self.cached.clear();
        self.session.reset();
        self.sampler.reset();
    }

    fn messages(&self) -> Vec<Message> {
        let mut m: Vec<Message> = self.system.iter().map(Message::system).collect();
        m.extend(self.turns.iter().cloned());
        m
    }

    fn render_tokens(&self) -> Result<Vec<u32>, String> {
        let text = self.template.render_prompt(&self.messages(), true).map_err(|e| e.to_string())?;
        self.tok.encode(&text, true, true).map_err(|e| e.to_string())
    }

    /// Tokens kept free for the reply when deciding whether old turns must go.
    fn reserve(&self) -> usize {
        let n_ctx = self.session.n_ctx();
        let want = if self.settings.n_predict > 0 { self.settings.n_predict } else { 256 };
        want.min(n_ctx / 4)
    }

    /// Run one turn: add `user`, generate the reply into `sink`, add the (possibly partial) reply
    /// to the conversation. On error the user message is withdrawn and the conversation is as
    /// before.
    pub fn turn(
        &mut self,
        user: &str,
        interrupt: &AtomicBool,
        sink: &mut dyn Sink,
    ) -> Result<(EndReason, String, TurnStats), String> {
        let mut stats = TurnStats::default();
        let n_ctx = self.session.n_ctx();
        self.turns.push(Message::user(user));
        let tokens = loop {
            let tokens = match self.render_tokens() {
                Ok(t) => t,
                Err(e) => {
                    self.turns.pop();
                    return Err(e);
                }
            };
            if tokens.len() + self.reserve() <= n_ctx {
                break tokens;
            }
            if self.turns.len() <= 1 {
                if tokens.len() < n_ctx {
                    break tokens; // alone it fits, with less room for the reply
                }
                self.turns.pop();
                return Err(format!(
                    "this message is {} tokens with the template, the context holds {n_ctx} (raise -c)",
                    tokens.len()
                ));
            }
            // Drop the oldest exchange: a user message and the reply after it.
            let n = if self.turns.len() > 2 && self.turns[1].role == "assistant" { 2 } else { 1 };
            self.turns.drain(..n);
            stats.dropped_turns += 1;
        };
        if stats.dropped_turns > 0 {
            sink.info(&format!(
                "the context ({n_ctx} tokens) is full: dropped the {} oldest exchange{} (the system prompt stays)",
                stats.dropped_turns,
                if stats.dropped_turns == 1 { "" } else { "s" }
            ));
        }

        // Keep the common prefix, run the rest (at least one token, for the logits).
        let mut common = self.cached.iter().zip(&tokens).take_while(|(a, b)| a == b).count();
        if common == tokens.len() {
            common -= 1;
        }
        if self.session.truncate(common).is_err() {
            self.session.reset();
            common = 0;
        }
        self.cached.truncate(common);
        stats.prompt_tokens = tokens.len();
        stats.reused = common;
        stats.prefilled = tokens.len() - common;
        let t = Instant::now();
        let new = &tokens[common..];
        if let Err(e) = self.session.prefill(new) {
            // The session may hold part of the new tokens: forget them all.
            let _ = self.session.truncate(common.min(self.session.n_past()));
            self.turns.pop();
            return Err(e.to_string());
        }
        self.cached.extend_from_slice(new);
        for &t in new {
            self.sampler.accept(t);
        }
        stats.prefill_s = t.elapsed().as_secs_f64();

        let (reason, reply) = self.generate(interrupt, sink, &mut stats)?;
        self.turns.push(Message::assistant(reply.clone()));
        Ok((reason, reply, stats))
    }

    fn generate(
        &mut self,
        interrupt: &AtomicBool,
        sink: &mut dyn Sink,
        stats: &mut TurnStats,
    ) -> Result<(EndReason, String), String> {
        let t = Instant::now();
        let mut decoder =
            self.tok.stream_decoder(DecodeOptions { remove_special: true, unparse_special: false });
        let mut stop = StopMatcher::new(&self.settings.stops);
        let mut logits = self.session.logits().to_vec();
        let mut last = 0;
        let reason = loop {
            if interrupt.load(Ordering::SeqCst) {
                break EndReason::Interrupted;
            }
            let next = self.sampler.sample(&logits).map_err(|e| e.to_string())?;
            self.sampler.accept(next);
            stats.generated += 1;
            last = next;
            if self.tok.vocab().is_eog(next) {
                break EndReason::Eog;
            }
            let piece = decoder.push_text(next).map_err(|e| e.to_string())?;
            if stop.push(piece, |s| sink.text(s, next)) {
                break EndReason::Stop;
            }
            if self.settings.n_predict > 0 && stats.generated >= self.settings.n_predict {
                break EndReason::Length;
            }
            if self.session.n_past() >= self.session.n_ctx() {
                break EndReason::ContextFull;
            }
            logits.copy_from_slice(self.session.decode_step(next).map_err(|e| e.to_string())?);
            self.cached.push(next);
        };
        if reason != EndReason::Stop {
            let tail = decoder.finish_text();
            stop.push(tail, |s| sink.text(s, last));
            stop.flush(|s| sink.text(s, last));
        }
        stats.decode_s = t.elapsed().as_secs_f64();
        Ok((reason, stop.reply))
    }
}

/// Finds stop strings in the streamed reply, holding back text that could start one.
struct StopMatcher<'x> {
    stops: &'x [String],
    reply: String,
    emitted: usize,
}

impl<'x> StopMatcher<'x> {
    fn new(stops: &'x [String]) -> Self {
        Self { stops, reply: String::new(), emitted: 0 }
    }

    /// Add `piece`; emit what is final. True if a stop string was found (the reply is cut
    /// before it).
    fn push(&mut self, piece: &str, mut emit: impl FnMut(&str)) -> bool {
        let search_from = self.emitted;
        self.reply.push_str(piece);
        let found = self
            .stops
            .iter()
            .filter(|s| !s.is_empty())
            .filter_map(|s| self.reply[search_from..].find(s.as_str()).map(|p| search_from + p))
            .min();
        if let Some(p) = found {
            self.reply.truncate(p);
            if p > self.emitted {
                emit(&self.reply[self.emitted..p]);
            }
            self.emitted = p;
            return true;
        }
        // Hold back the longest suffix that is a prefix of a stop string.
        let mut safe = self.reply.len();
        for s in self.stops {
            for (i, _) in s.char_indices().skip(1) {
                if self.reply.ends_with(&s[..i]) {
                    safe = safe.min(self.reply.len() - i);
                }
            }
        }
        if safe > self.emitted {
            emit(&self.reply[self.emitted..safe]);
            self.emitted = safe;
        }
        false
    }

    /// Emit everything held back.
    fn flush(&mut self, mut emit: impl FnMut(&str)) {
        if self.reply.len() > self.emitted {
            emit(&self.reply[self.emitted..]);
            self.emitted = self.reply.len();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::StopMatcher;

    fn run(stops: &[&str], pieces: &[&str]) -> (String, bool, String) {
        let stops: Vec<String> = stops.iter().map(|s| s.to_string()).collect();
        let mut m = StopMatcher::new(&stops);
        let mut out = String::new();
        let mut hit = false;
        for p in pieces {
            if m.push(p, |s| out.push_str(s)) {
                hit = true;
                break;
            }
        }
        if !hit {
            m.flush(|s| out.push_str(s));
        }
        (out, hit, m.reply)
    }

    #[test]
    fn stop_string_split_across_tokens_is_cut() {
        let (out, hit, reply) = run(&["User:"], &["Hello", " there.\nUs", "er: hi"]);
        assert!(hit);
        assert_eq!(out, "Hello there.\n");
        assert_eq!(reply, "Hello there.\n");
    }

    #[test]
    fn held_back_prefix_is_released_when_it_does_not_match() {
        let (out, hit, _) = run(&["User:"], &["a Us", "ually"]);
        assert!(!hit);
        assert_eq!(out, "a Usually");
    }
}
