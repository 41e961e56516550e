//! One decoding step's matrix-vector products on a real model, timed per weight type: every
//! layer matrix in forward order and then the output projection, on a pool of `t` threads (as
//! a session runs them, activation quantization included), repeated; the median (and the
//! fastest) pass of each type in milliseconds and GB/s of weights read. Shows where a token's
//! time goes without the rest of the forward pass, and how close each kernel gets to the
//! machine's memory bandwidth.
//!
//!     cargo run --release -p emberlm-benches --example model-gemv -- MODEL.gguf [THREADS] [PASSES]

use std::collections::BTreeMap;
use std::time::Instant;

use emberlm::Model;
use emberlm::matmul::{QuantizedInput, activation_row_bytes};
use emberlm::models::MappedFile;
use emberlm::threads::Pool;

fn main() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let path = args.next().ok_or("usage: model-gemv MODEL.gguf [THREADS] [PASSES]")?;
    let threads: usize = args.next().map_or(Ok(2), |s| s.parse()).map_err(|e| format!("threads: {e}"))?;
    let passes: usize = args.next().map_or(Ok(30), |s| s.parse()).map_err(|e| format!("passes: {e}"))?;
    let file = MappedFile::open(std::path::Path::new(&path)).map_err(|e| format!("{path}: {e}"))?;
    let gguf = file.gguf().map_err(|e| format!("{path}: {e}"))?;
    let model = Model::from_gguf(&gguf).map_err(|e| e.to_string())?;
    let pool = Pool::new(threads).map_err(|e| e.to_string())?;
    // the token embedding is read by rows, not multiplied: skip it (it may be the output too)
    let mats: Vec<_> = model.matrices().skip(1).collect();
    let max_cols = mats.iter().map(|m| m.n_cols()).max().unwrap_or(0);
    let max_rows = mats.iter().map(|m| m.n_rows()).max().unwrap_or(0);
    let act_bytes = mats.iter().filter_map(|m| activation_row_bytes(m.ty(), m.n_cols())).max().unwrap_or(0);
    let x: Vec<f32> = (0..max_cols).map(|i| ((i * 7919) % 1000) as f32 / 500.0 - 1.0).collect();
    let mut y = vec![0f32; max_rows];
    let mut buf = vec![0u32; act_bytes.div_ceil(4)];
    // per type (the output projection apart): times of each pass, bytes per pass
    let mut times: BTreeMap<String, (Vec<f64>, usize)> = BTreeMap::new();
    let last = mats.len() - 1;
    for pass in 0..=passes {
        let mut t_pass: BTreeMap<String, f64> = BTreeMap::new();
        for (i, m) in mats.iter().enumerate() {
            let key = if i == last { format!("output {}", m.ty()) } else { format!("{}", m.ty()) };
            let mut qin = QuantizedInput::new(model.kernels(), &mut buf).with_pool(&pool);
            let t = Instant::now();
            qin.matmul(m, &x[..m.n_cols()], 1, &mut y[..m.n_rows()]).map_err(|e| e.to_string())?;
            *t_pass.entry(key.clone()).or_default() += t.elapsed().as_secs_f64();
            if pass == 0 {
                let bytes = m.n_rows() * m.n_cols() * m.ty().block_bytes() / m.ty().block_elems();
                times.entry(key).or_default().1 += bytes;
            }
        }
        // the first pass warms up (page faults, caches)
        for (k, t) in t_pass.into_iter().filter(|_| pass > 0) {
            if let Some(e) = times.get_mut(&k) {
                e.0.push(t);
            }
        }
    }
    println!("{path}, {threads} thread(s), median (and fastest) of {passes} passes");
    let mut total = (0.0, 0.0, 0usize);
    for (k, (mut ts, bytes)) in times {
        ts.sort_by(f64::total_cmp);
        let (med, best) = (ts[ts.len() / 2], ts[0]);
        total = (total.0 + med, total.1 + best, total.2 + bytes);
        line(&k, med, best, bytes);
    }
    line("all", total.0, total.1, total.2);
    Ok(())
}

fn line(what: &str, med: f64, best: f64, bytes: usize) {
    let mb = bytes as f64 / 1e6;
    println!(
        "{what:>12}: {:7.3} ms  {mb:6.1} MB  {:5.1} GB/s  (fastest {:7.3} ms {:5.1} GB/s)",
        med * 1e3,
        mb / med / 1e3,
        best * 1e3,
        mb / best / 1e3
    );
}
