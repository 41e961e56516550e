//! The flags `emberlm run` and `emberlm chat` share: the sampler chain (llama.cpp's flag names)
//! and the session's context, cache and threads.
use emberlm::sampler::{SamplerChain, SamplerParams};
use emberlm::{KvType, Model, SessionOptions};

/// The default of `-t/--threads`: the one place to change it (the platform's policy: physical
/// cores on a desktop, the Pi policy on a Raspberry Pi).
pub fn default_threads() -> usize {
    crate::platform::default_threads()
}

/// Sampler flags (defaults: llama.cpp's `common_params_sampling`).
#[derive(clap::Args, Debug, Clone)]
pub struct SamplingArgs {
    /// Temperature; 0 is greedy decoding.
    #[arg(long, default_value_t = 0.8)]
    pub temp: f32,
    /// Seed of the sampler's random draw.
    #[arg(long, default_value_t = emberlm::sampler::DEFAULT_SEED)]
    pub seed: u64,
    /// Keep the K most likely tokens (0: all).
    #[arg(long = "top-k", default_value_t = 40)]
    pub top_k: usize,
    /// Keep the most likely tokens up to this probability mass (1.0: all).
    #[arg(long = "top-p", default_value_t = 0.95)]
    pub top_p: f32,
    /// Drop tokens less likely than this fraction of the most likely one (0: off).
    #[arg(long = "min-p", default_value_t = 0.05)]
    pub min_p: f32,
    /// Locally typical sampling threshold (1.0: off).
    #[arg(long = "typical", default_value_t = 1.0)]
    pub typical_p: f32,
    /// Penalty for tokens repeated in the last --repeat-last-n tokens (1.0: off).
    #[arg(long = "repeat-penalty", default_value_t = 1.0)]
    pub repeat_penalty: f32,
    /// Subtracted from a token's logit once per occurrence in the window (0: off).
    #[arg(long = "frequency-penalty", default_value_t = 0.0)]
    pub freq_penalty: f32,
    /// Subtracted from the logit of every token present in the window (0: off).
    #[arg(long = "presence-penalty", default_value_t = 0.0)]
    pub presence_penalty: f32,
    /// Window of the penalties (tokens).
    #[arg(long = "repeat-last-n", default_value_t = 64)]
    pub repeat_last_n: usize,
    /// Add BIAS to a token's logit: `TOKEN_ID+BIAS`, `TOKEN_ID-BIAS`, `TOKEN_ID-inf` bans it
    /// (repeatable).
    #[arg(short = 'l', long = "logit-bias", value_parser = parse_logit_bias)]
    pub logit_bias: Vec<(u32, f32)>,
}

impl SamplingArgs {
    /// The sampler parameters these flags describe.
    pub fn params(&self) -> SamplerParams {
        SamplerParams {
            temp: self.temp,
            top_k: self.top_k,
            top_p: self.top_p,
            min_p: self.min_p,
            typical_p: self.typical_p,
            repeat_penalty: self.repeat_penalty,
            freq_penalty: self.freq_penalty,
            presence_penalty: self.presence_penalty,
            penalty_last_n: self.repeat_last_n,
            logit_bias: self.logit_bias.clone(),
            seed: self.seed,
            ..SamplerParams::default()
        }
    }

    /// The sampler chain, checked against the model's vocabulary (a bias for a token the
    /// model does not have is an error, not a silent no-op).
    pub fn chain(&self, model: &Model<'_>) -> Result<SamplerChain, String> {
        let n_vocab = model.config().n_vocab;
        if let Some((t, _)) = self.logit_bias.iter().find(|(t, _)| *t as usize >= n_vocab) {
            return Err(format!("--logit-bias: token {t} is outside the vocabulary ({n_vocab} tokens)"));
        }
        Ok(SamplerChain::from_params(&self.params()))
    }
}

/// `TOKEN_ID+BIAS` / `TOKEN_ID-BIAS` (llama.cpp's `--logit-bias`).
fn parse_logit_bias(s: &str) -> Result<(u32, f32), String> {
    let at = s
        .char_indices()
        .skip(1)
        .find(|&(_, c)| c == '+' || c == '-')
        .map(|(i, _)| i)
        .ok_or_else(|| format!("{s:?}: expected TOKEN_ID+BIAS or TOKEN_ID-BIAS"))?;
    let token: u32 =
        s[..at].trim().parse().map_err(|_| format!("{s:?}: {:?} is not a token id", &s[..at]))?;
    let bias: f32 = s[at..].trim().parse().map_err(|_| format!("{s:?}: {:?} is not a number", &s[at..]))?;
    if bias.is_nan() || bias == f32::INFINITY {
        return Err(format!("{s:?}: the bias must be a number or -inf"));
    }
    Ok((token, bias))
}

/// Context, KV cache and threads of the session (shared by `run` and `chat`).
#[derive(clap::Args, Debug, Clone)]
pub struct SessionArgs {
    /// Context size (default: the model's training context, at most 4096).
    #[arg(short = 'c', long = "ctx-size")]
    pub ctx: Option<usize>,
    /// KV cache type.
    #[arg(long = "cache-type", value_parser = ["f16", "f32", "q8_0"], default_value = "f16")]
    pub cache_type: String,
    /// Threads (0: one per core).
    #[arg(short = 't', long = "threads", default_value_t = default_threads())]
    pub threads: usize,
}

impl SessionArgs {
    /// The context size: `-c`, else the model's training context capped at 4096.
    pub fn n_ctx(&self, model: &Model<'_>) -> usize {
        self.ctx.unwrap_or_else(|| model.config().n_ctx_train.clamp(1, 4096))
    }

    /// Session options for a context of `n_ctx`.
    pub fn options(&self, n_ctx: usize) -> SessionOptions {
        let kv_type = KvType::from_name(&self.cache_type).unwrap_or_default();
        SessionOptions { n_ctx, kv_type, n_threads: self.threads, ..Default::default() }
    }
}

#[cfg(test)]
mod tests {
    use super::parse_logit_bias;

    #[test]
    fn logit_bias_forms() {
        assert_eq!(parse_logit_bias("15043+1"), Ok((15043, 1.0)));
        assert_eq!(parse_logit_bias("15043-0.5"), Ok((15043, -0.5)));
        assert_eq!(parse_logit_bias("2-inf"), Ok((2, f32::NEG_INFINITY)));
        assert!(parse_logit_bias("2+inf").is_err());
        assert!(parse_logit_bias("15043").is_err());
        assert!(parse_logit_bias("x+1").is_err());
        assert!(parse_logit_bias("-1+1").is_err());
        assert!(parse_logit_bias("3+nan").is_err());
    }
}
