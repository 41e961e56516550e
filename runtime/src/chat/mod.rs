//! Chat templates: turn a list of messages into the prompt text a chat model was trained on.
//!
//! Templates are the Jinja programs Hugging Face ships as `chat_template` (and GGUF files as
//! `tokenizer.chat_template`), rendered with [`minijinja`] in an environment set up like
//! `transformers`' (`ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)` with
//! loop controls, `raise_exception`, its `tojson`, `strftime_now`, and Python string/dict
//! methods via `minijinja-contrib`'s pycompat), with the same variables: `messages`,
//! `add_generation_prompt`, `tools = None`, `documents = None`, `bos_token`, `eos_token`.
//! [`ChatTemplate::render`] is byte-identical to `tokenizer.apply_chat_template(messages,
//! tokenize=False, add_generation_prompt=...)`; [`ChatTemplate::render_prompt`] then drops a
//! leading BOS text when the tokenizer adds BOS itself, as llama.cpp does.
//!
//! Resolution ([`ChatTemplate::from_gguf`]): an explicit name (or Jinja source) given by the
//! user, else the model's embedded template, else the ChatML fallback with a notice.

mod builtin;
mod json;
mod strftime;

use std::string::{String, ToString};
use std::sync::Arc;
use std::vec::Vec;

use minijinja::syntax::SyntaxConfig;
use minijinja::value::{Enumerator, Kwargs, Object, ObjectRepr, Rest, Value};
use minijinja::{Environment, Error, ErrorKind};

use crate::models::Gguf;

/// The GGUF metadata key of the embedded template.
pub const CHAT_TEMPLATE_KEY: &str = "tokenizer.chat_template";

/// The template used when a model has none and the user named none.
pub const FALLBACK_TEMPLATE: &str = "chatml";

/// One chat message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// `system`, `user`, `assistant` (or whatever roles the template knows)
    pub role: String,
    /// the text
    pub content: String,
}

impl Message {
    /// A message with any role.
    pub fn new(role: impl Into<String>, content: impl Into<String>) -> Self {
        Self { role: role.into(), content: content.into() }
    }
    /// A system message.
    pub fn system(content: impl Into<String>) -> Self {
        Self::new("system", content)
    }
    /// A user message.
    pub fn user(content: impl Into<String>) -> Self {
        Self::new("user", content)
    }
    /// An assistant message.
    pub fn assistant(content: impl Into<String>) -> Self {
        Self::new("assistant", content)
    }
}

/// Why a template could not be loaded or rendered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChatError {
    /// `--chat-template NAME` names no built-in template (and is not Jinja source).
    UnknownName(String),
    /// The template does not parse.
    Syntax(String),
    /// Rendering failed: `raise_exception(...)` (e.g. roles that do not alternate), an
    /// undefined attribute, a type error.
    Render(String),
    /// The GGUF metadata is unusable (e.g. the template key is not a string).
    Metadata(String),
}

impl core::fmt::Display for ChatError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::UnknownName(n) => write!(
                f,
                "unknown chat template {n:?}; built-in templates: {}",
                ChatTemplate::names().collect::<Vec<_>>().join(", ")
            ),
            Self::Syntax(e) => write!(f, "chat template does not parse: {e}"),
            Self::Render(e) => write!(f, "chat template failed: {e}"),
            Self::Metadata(e) => write!(f, "chat template metadata: {e}"),
        }
    }
}

impl std::error::Error for ChatError {}

fn describe(e: &Error) -> String {
    let mut s = e.detail().map_or_else(|| e.kind().to_string(), ToString::to_string);
    if let Some(line) = e.line() {
        s.push_str(&std::format!(" (template line {line})"));
    }
    s
}

/// Where a [`ChatTemplate`] came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplateOrigin {
    /// the model's `tokenizer.chat_template`
    Embedded,
    /// a built-in template the user named
    Named(&'static str),
    /// Jinja source the user gave
    Custom,
    /// the model has no template: a built-in fallback
    Fallback(&'static str),
}

/// A message as the template sees it: a dict with `role` and `content`, in that order.
#[derive(Debug)]
struct MessageObj(Message);

impl Object for MessageObj {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str()? {
            "role" => Some(Value::from(self.0.role.as_str())),
            "content" => Some(Value::from(self.0.content.as_str())),
            _ => None,
        }
    }
    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Str(&["role", "content"])
    }
}

/// A compiled chat template plus the special-token texts it may print.
#[derive(Debug)]
pub struct ChatTemplate {
    env: Environment<'static>,
    source: String,
    origin: TemplateOrigin,
    notice: Option<String>,
    bos_token: Option<String>,
    eos_token: Option<String>,
    add_bos: bool,
    add_eos: bool,
}

fn environment(source: &str, time: Option<i64>) -> Result<Environment<'static>, ChatError> {
    let mut env = Environment::new();
    let syntax = SyntaxConfig::builder()
        .trim_blocks(true)
        .lstrip_blocks(true)
        .build()
        .map_err(|e| ChatError::Syntax(describe(&e)))?;
    env.set_syntax(syntax);
    env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
    env.add_function("raise_exception", |msg: String| -> Result<Value, Error> {
        Err(Error::new(ErrorKind::InvalidOperation, msg))
    });
    env.add_function("strftime_now", move |fmt: String| -> Value {
        let now = time.unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64)
        });
        Value::from(strftime::strftime(&fmt, now))
    });
    env.add_filter("tojson", |v: Value, args: Rest<Value>, kwargs: Kwargs| -> Result<Value, Error> {
        let opts = json::JsonOpts::from_args(&args, &kwargs)?;
        let mut out = String::new();
        json::dumps(&v, &opts, 0, &mut out)?;
        Ok(Value::from(out))
    });
    env.add_template_owned("chat", String::from(source)).map_err(|e| ChatError::Syntax(describe(&e)))?;
    Ok(env)
}

impl ChatTemplate {
    /// Compile Jinja `source`.
    pub fn new(source: impl Into<String>) -> Result<Self, ChatError> {
        let source = source.into();
        let env = environment(&source, None)?;
        Ok(Self {
            env,
            source,
            origin: TemplateOrigin::Custom,
            notice: None,
            bos_token: None,
            eos_token: None,
            add_bos: false,
            add_eos: false,
        })
    }

    /// A built-in template by name (see [`ChatTemplate::names`]).
    pub fn named(name: &str) -> Result<Self, ChatError> {
        let (canonical, src) = builtin::lookup(name).ok_or_else(|| ChatError::UnknownName(name.into()))?;
        let mut t = Self::new(src)?;
        t.origin = TemplateOrigin::Named(canonical);
        Ok(t)
    }

    /// A built-in name, or else Jinja source (anything containing `{{` or `{%`), as
    /// llama.cpp's `--chat-template` accepts.
    pub fn named_or_source(arg: &str) -> Result<Self, ChatError> {
        match Self::named(arg) {
            Err(ChatError::UnknownName(_)) if arg.contains("{{") || arg.contains("{%") => Self::new(arg),
            r => r,
        }
    }

    /// The built-in template names.
    pub fn names() -> impl Iterator<Item = &'static str> {
        builtin::BUILTIN.iter().map(|(n, _, _)| *n)
    }

    /// The built-in templates with a line on where each comes from.
    pub fn builtin_descriptions() -> impl Iterator<Item = (&'static str, &'static str)> {
        builtin::BUILTIN.iter().map(|(n, d, _)| (*n, *d))
    }

    /// The template for a model: `override_name` (a built-in name or Jinja source) if given,
    /// else `tokenizer.chat_template`, else the [`FALLBACK_TEMPLATE`] with a
    /// [`notice`](Self::notice) saying so. BOS/EOS texts and whether the tokenizer adds them
    /// come from the tokenizer metadata.
    pub fn from_gguf(g: &Gguf<'_>, override_name: Option<&str>) -> Result<Self, ChatError> {
        let embedded = match g.get(CHAT_TEMPLATE_KEY) {
            None => None,
            Some(v) => Some(v.as_str().ok_or_else(|| {
                ChatError::Metadata(std::format!("{CHAT_TEMPLATE_KEY} is not a UTF-8 string"))
            })?),
        };
        let mut t = match (override_name, embedded) {
            (Some(name), _) => Self::named_or_source(name)?,
            (None, Some(src)) => {
                let mut t = Self::new(src)?;
                t.origin = TemplateOrigin::Embedded;
                t
            }
            (None, None) => {
                let mut t = Self::named(FALLBACK_TEMPLATE)?;
                t.origin = TemplateOrigin::Fallback(FALLBACK_TEMPLATE);
                let arch = g.architecture().unwrap_or("unknown");
                let hint = builtin::lookup(arch).map_or(String::new(), |(n, _)| {
                    std::format!(" (for a {arch} model, --chat-template {n} is likely right)")
                });
                t.notice = Some(std::format!(
                    "this model has no chat template ({CHAT_TEMPLATE_KEY}); using the built-in \
                     {FALLBACK_TEMPLATE:?} template{hint}. Pick another with --chat-template NAME, \
                     one of: {}",
                    Self::names().collect::<Vec<_>>().join(", ")
                ));
                t
            }
        };
        let token = |key: &str| -> Option<String> {
            let id = g.get(key)?.as_u32()?;
            let tokens = g.get("tokenizer.ggml.tokens")?.as_array()?;
            let bytes = tokens.strings()?.nth(id as usize)?;
            Some(String::from_utf8_lossy(bytes).into_owned())
        };
        t.bos_token = token("tokenizer.ggml.bos_token_id");
        t.eos_token = token("tokenizer.ggml.eos_token_id");
        t.add_bos = g.get("tokenizer.ggml.add_bos_token").and_then(|v| v.as_bool()).unwrap_or(false);
        t.add_eos = g.get("tokenizer.ggml.add_eos_token").and_then(|v| v.as_bool()).unwrap_or(false);
        Ok(t)
    }

    /// Set the `bos_token` / `eos_token` texts (`None` leaves the variable undefined, as HF
    /// does for a tokenizer without that token).
    pub fn with_special_tokens(mut self, bos: Option<&str>, eos: Option<&str>) -> Self {
        self.bos_token = bos.map(String::from);
        self.eos_token = eos.map(String::from);
        self
    }

    /// Declare whether the tokenizer adds BOS / EOS itself (see [`Self::render_prompt`]).
    pub fn with_add_special(mut self, add_bos: bool, add_eos: bool) -> Self {
        self.add_bos = add_bos;
        self.add_eos = add_eos;
        self
    }

    /// Make `strftime_now` print this UTC time (seconds since the epoch) instead of the
    /// clock's, for reproducible prompts.
    pub fn with_time(mut self, unix_seconds: i64) -> Result<Self, ChatError> {
        self.env = environment(&self.source, Some(unix_seconds))?;
        Ok(self)
    }

    /// The Jinja source.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Where it came from.
    pub fn origin(&self) -> &TemplateOrigin {
        &self.origin
    }

    /// A message for the user when a fallback was chosen.
    pub fn notice(&self) -> Option<&str> {
        self.notice.as_deref()
    }

    /// The BOS text given to the template.
    pub fn bos_token(&self) -> Option<&str> {
        self.bos_token.as_deref()
    }

    /// The EOS text given to the template.
    pub fn eos_token(&self) -> Option<&str> {
        self.eos_token.as_deref()
    }

    /// Render exactly as `transformers`' `apply_chat_template(messages, tokenize=False,
    /// add_generation_prompt=...)` does.
    pub fn render(&self, messages: &[Message], add_generation_prompt: bool) -> Result<String, ChatError> {
        let tmpl = self.env.get_template("chat").map_err(|e| ChatError::Syntax(describe(&e)))?;
        let msgs: Vec<Value> = messages.iter().map(|m| Value::from_object(MessageObj(m.clone()))).collect();
        let mut ctx: Vec<(&str, Value)> = std::vec![
            ("messages", Value::from(msgs)),
            ("add_generation_prompt", Value::from(add_generation_prompt)),
            ("tools", Value::from(())),
            ("documents", Value::from(())),
        ];
        if let Some(b) = &self.bos_token {
            ctx.push(("bos_token", Value::from(b.as_str())));
        }
        if let Some(e) = &self.eos_token {
            ctx.push(("eos_token", Value::from(e.as_str())));
        }
        let ctx: Value = Value::from_object(
            ctx.into_iter().map(|(k, v)| (String::from(k), v)).collect::<std::collections::BTreeMap<_, _>>(),
        );
        tmpl.render(ctx).map_err(|e| ChatError::Render(describe(&e)))
    }

    /// [`render`](Self::render), then, like llama.cpp, drop a leading BOS text if the
    /// tokenizer adds BOS itself and a trailing EOS text if it adds EOS, so that tokenizing
    /// the result with special tokens parsed does not double them.
    pub fn render_prompt(
        &self,
        messages: &[Message],
        add_generation_prompt: bool,
    ) -> Result<String, ChatError> {
        let mut s = self.render(messages, add_generation_prompt)?;
        if self.add_bos
            && let Some(b) = self.bos_token.as_deref().filter(|b| !b.is_empty())
            && s.starts_with(b)
        {
            s.drain(..b.len());
        }
        if self.add_eos
            && let Some(e) = self.eos_token.as_deref().filter(|e| !e.is_empty())
            && s.ends_with(e)
        {
            s.truncate(s.len() - e.len());
        }
        Ok(s)
    }
}
