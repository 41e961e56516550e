//! llama.cpp's special-token rules at load time: EOT/EOM/FIM auto-detection by text,
//! "unused" control tokens, the end-of-generation set, and the attribute fix-ups that go
//! with them (they decide which texts the special-token partition splits out).

use alloc::vec::Vec;

use super::vocab::{N_SPECIAL, Special, attr};

/// Updates `attrs` and `special` and returns the end-of-generation ids.
pub(crate) fn detect<'t>(
    attrs: &mut [u16],
    special: &mut [Option<u32>; N_SPECIAL],
    by_name: &impl Fn(&str) -> Option<u32>,
    n: usize,
    tok: &impl Fn(u32) -> &'t [u8],
) -> Vec<u32> {
    let set_control = |attrs: &mut [u16], id: u32| attrs[id as usize] |= attr::CONTROL;

    // auto-detect EOT / EOM / FIM tokens by text (llama.cpp walks a hash map: when several
    // candidates exist its pick is unspecified; the lowest id is taken here)
    let detect: [(Special, &[&str]); 8] = [
        (
            Special::Eot,
            &[
                "<|eot_id|>",
                "<|im_end|>",
                "<|end|>",
                "<end_of_turn>",
                "<|endoftext|>",
                "<|end_of_text|>",
                "<EOT>",
                "_<EOT>",
                "[EOT]",
                "<｜end▁of▁sentence｜>",
                "<end_of_utterance>",
            ],
        ),
        (Special::Eom, &["<|eom_id|>"]),
        (
            Special::FimPre,
            &[
                "<|fim_prefix|>",
                "<fim-prefix>",
                "<fim_prefix>",
                "<｜fim▁begin｜>",
                "<PRE>",
                "▁<PRE>",
                "<|code_prefix|>",
                "<|prefix|>",
            ],
        ),
        (
            Special::FimSuf,
            &[
                "<|fim_suffix|>",
                "<fim-suffix>",
                "<fim_suffix>",
                "<｜fim▁hole｜>",
                "<SUF>",
                "▁<SUF>",
                "<|code_suffix|>",
                "<|suffix|>",
            ],
        ),
        (
            Special::FimMid,
            &[
                "<|fim_middle|>",
                "<fim-middle>",
                "<fim_middle>",
                "<｜fim▁end｜>",
                "<MID>",
                "▁<MID>",
                "<|code_middle|>",
                "<|middle|>",
            ],
        ),
        (Special::FimPad, &["<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]"]),
        (Special::FimRep, &["<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>"]),
        (Special::FimSep, &["<|file_sep|>"]),
    ];
    for (which, names) in detect {
        if special[which as usize].is_some() {
            continue;
        }
        if let Some(id) = names.iter().filter_map(|s| by_name(s)).min() {
            special[which as usize] = Some(id);
            set_control(attrs, id);
        }
    }
    // control tokens named "unused" are unused
    for id in 0..n as u32 {
        if attrs[id as usize] & attr::CONTROL != 0 && contains(tok(id), b"unused") {
            attrs[id as usize] |= attr::UNUSED;
        }
    }
    // end-of-generation tokens
    let mut eog: Vec<u32> = Vec::new();
    for id in
        [Special::FimPad, Special::FimRep, Special::FimSep].into_iter().filter_map(|w| special[w as usize])
    {
        if !eog.contains(&id) {
            eog.push(id);
        }
    }
    const EOG_NAMES: [&str; 22] = [
        "<|eot_id|>",
        "<|im_end|>",
        "<|end|>",
        "<|return|>",
        "<|call|>",
        "<|flush|>",
        "<|calls|>",
        "<end_of_turn>",
        "<|endoftext|>",
        "</s>",
        "<|eom_id|>",
        "<EOT>",
        "_<EOT>",
        "[EOT]",
        "[EOS]",
        "<|end_of_text|>",
        "<end_of_utterance>",
        "<eos>",
        "<turn|>",
        "<|tool_response>",
        "<｜end▁of▁sentence｜>",
        "[e~[",
    ];
    for name in EOG_NAMES {
        if let Some(id) = by_name(name) {
            if !eog.contains(&id) {
                eog.push(id);
            }
            set_control(attrs, id);
        }
    }
    for name in ["<|channel|>", "<|message|>", "<|start|>", "<|constrain|>"] {
        if let Some(id) = by_name(name) {
            attrs[id as usize] = attr::USER_DEFINED;
        }
    }
    for id in [Special::Eos, Special::Eot, Special::Eom].into_iter().filter_map(|w| special[w as usize]) {
        if !eog.contains(&id) {
            eog.push(id);
        }
    }
    let eog_has = |eog: &Vec<u32>, name: &str| by_name(name).filter(|id| eog.contains(id));
    if let Some(end) = eog_has(&eog, "<|end|>") {
        let call = eog_has(&eog, "<|call|>").or(eog_has(&eog, "<|calls|>")).is_some();
        let ret = eog_has(&eog, "<|return|>").is_some();
        let flush = eog_has(&eog, "<|flush|>").is_some();
        if call && (ret || flush) {
            eog.retain(|&x| x != end);
            attrs[end as usize] = attr::USER_DEFINED;
        }
    }
    let normal_s = eog_has(&eog, "<|tool_response>").is_some() || eog_has(&eog, "<|plamo:eos|>").is_some();
    if let Some(s) = eog_has(&eog, "</s>").filter(|_| normal_s) {
        eog.retain(|&x| x != s);
        attrs[s as usize] = attr::NORMAL;
    }

    eog
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}
