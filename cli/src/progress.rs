//! Progress bars on stderr (never stdout), hidden by `--quiet` and when stderr is not a terminal.
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A bar of `len` units; `bytes` formats the counts as sizes.
pub fn bar(len: u64, bytes: bool, quiet: bool) -> ProgressBar {
    let target = if quiet { ProgressDrawTarget::hidden() } else { ProgressDrawTarget::stderr() };
    let pb = ProgressBar::with_draw_target(Some(len), target);
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
    let target = if quiet { ProgressDrawTarget::hidden() } else { ProgressDrawTarget::stderr() };
    let pb = ProgressBar::with_draw_target(None, target);
    pb.set_style(ProgressStyle::with_template("{spinner} {msg} {elapsed}").expect("valid template"));
    pb.set_message(msg);
    pb.enable_steady_tick(std::time::Duration::from_millis(120));
    pb
}
