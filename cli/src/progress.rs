//! Progress bars on stderr (never stdout), hidden by `--quiet` and when stderr is not a terminal,
//! so pipes, logs and tests never see them.
use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Whether progress is drawn: not `quiet`, and stderr is a terminal.
pub fn visible(quiet: bool) -> bool {
    !quiet && std::io::stderr().is_terminal()
}

fn target(quiet: bool) -> ProgressDrawTarget {
    if visible(quiet) { ProgressDrawTarget::stderr() } else { ProgressDrawTarget::hidden() }
}

/// A bar of `len` units; `bytes` formats the counts as sizes.
pub fn bar(len: u64, bytes: bool, quiet: bool) -> ProgressBar {
    let pb = ProgressBar::with_draw_target(Some(len), target(quiet));
    let template = if bytes {
        "{spinner} {msg:<24!} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}"
    } else {
        "{spinner} {msg:<32!} [{bar:30}] {percent:>3}% {elapsed_precise} eta {eta}"
    };
    pb.set_style(ProgressStyle::with_template(template).expect("valid template").progress_chars("=> "));
    pb
}

/// A spinner with a message, for work of unknown length.
pub fn spinner(msg: String, quiet: bool) -> ProgressBar {
    let pb = ProgressBar::with_draw_target(None, target(quiet));
    pb.set_style(ProgressStyle::with_template("{spinner} {msg} {elapsed}").expect("valid template"));
    pb.set_message(msg);
    pb.enable_steady_tick(std::time::Duration::from_millis(120));
    pb
}
