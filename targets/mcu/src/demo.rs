//! The firmware's two modes, board-independent: a story for a prompt (semihosting console) and
//! the serial chat; plus the allocation proof and the closing `stats:` line.

use core::fmt::Write as _;

use crate::chat::{ChatTotals, Fmt, SerialChat};
use crate::clock::Clock;
use crate::model::{Engine, GenStats, McuError};

/// Tokens a story generates.
pub const N_PREDICT: usize = 100;

/// What a story run measured.
#[derive(Debug, Clone, Copy)]
pub struct StoryReport {
    /// The generation.
    pub stats: GenStats,
    /// Allocation calls during `generate` (prompt encoding included).
    pub generate_allocs: usize,
    /// Allocation calls of encoding the prompt alone.
    pub encode_allocs: usize,
}

impl StoryReport {
    /// Prefill plus decoding allocated nothing: every allocation of the call was the prompt
    /// encoding's.
    pub fn allocation_free(&self) -> bool {
        self.generate_allocs == self.encode_allocs
    }
}

/// Write `prompt` and its continuation of up to `n_predict` tokens (and a newline) to `out`,
/// counting allocator calls with `alloc_calls`.
pub fn story<W: embedded_io::Write, C: Clock>(
    engine: &Engine<'_>,
    prompt: &str,
    n_predict: usize,
    out: &mut W,
    clock: &C,
    alloc_calls: impl Fn() -> usize,
) -> Result<StoryReport, McuError> {
    let mut generator = engine.generator()?;
    let io = |e: W::Error| McuError::Io(embedded_io::Error::kind(&e));
    out.write_all(prompt.as_bytes()).map_err(io)?;
    let before = alloc_calls();
    let stats = generator.generate(prompt, n_predict, out, clock)?;
    let generate_allocs = alloc_calls() - before;
    out.write_all(b"\n").map_err(io)?;
    out.flush().map_err(io)?;
    let before = alloc_calls();
    drop(engine.tokenizer().encode(prompt, true, true));
    let encode_allocs = alloc_calls() - before;
    Ok(StoryReport { stats, generate_allocs, encode_allocs })
}

/// Run the serial chat on `port` until an empty line.
pub fn chat<P: embedded_io::Read + embedded_io::Write, C: Clock>(
    engine: &Engine<'_>,
    port: P,
    n_predict: usize,
    clock: &C,
) -> Result<ChatTotals, McuError> {
    let mut generator = engine.generator()?;
    let mut chat: SerialChat<P> = SerialChat::new(port);
    chat.run(&mut generator, n_predict, clock)
}

/// One line describing a story's speed and allocations (for the log).
pub fn summary(r: &StoryReport, ticks_per_second: u64) -> Fmt<160> {
    let mut f = Fmt::new();
    let _ = write!(
        f,
        "prompt {} tokens, generated {}; allocation calls during generation {} (prompt encoding {})",
        r.stats.prompt_tokens, r.stats.tokens, r.generate_allocs, r.encode_allocs
    );
    if let Some(tps) = r.stats.tokens_per_second(ticks_per_second) {
        let _ = write!(f, "; {tps:.1} tokens/s");
    }
    f
}

/// The command line of a firmware run: `story PROMPT...` or `chat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode<'a> {
    /// Continue the prompt on the console.
    Story(&'a str),
    /// Serial chat.
    Chat,
}

/// Parse a semihosting command line (`story Once upon a time`, `chat`); a line without a mode
/// word is a story prompt.
pub fn parse_cmdline(cmdline: &str) -> Mode<'_> {
    let s = cmdline.trim();
    match s.split_once(' ') {
        _ if s == "chat" => Mode::Chat,
        Some(("story", p)) => Mode::Story(p.trim_start()),
        _ if s == "story" || s.is_empty() => Mode::Story("Once upon a time"),
        _ => Mode::Story(s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_lines() {
        assert_eq!(parse_cmdline("story Once upon a time"), Mode::Story("Once upon a time"));
        assert_eq!(parse_cmdline("chat"), Mode::Chat);
        assert_eq!(parse_cmdline(""), Mode::Story("Once upon a time"));
        assert_eq!(parse_cmdline("Lily, Tom"), Mode::Story("Lily, Tom"));
    }
}
