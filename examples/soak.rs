//! Soak test: the paper pipeline with learnable ranges, trained with Adam for many steps,
//! every draw from a `Generator` of its own, a checked save and load of structure plus
//! state every 1,000 steps, and the resident memory (RSS) sampled as it goes. Memory must
//! stay flat: the run fails if RSS after warm-up grows by more than 32 MiB.
//!
//! `cargo run --release --example soak -- [steps=10000] [batch=16] [side=64]`

mod common;
use anyhow::{bail, Result};
use std::time::Instant;
use tch::nn::{self, OptimizerConfig};
use tch::{Device, Kind, Tensor};
use tch_dda::*;

/// Resident set size of this process in MiB (Linux), or 0 where /proc is missing.
fn rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

fn main() -> Result<()> {
    let arg = |i: usize, d: i64| {
        std::env::args()
            .nth(i)
            .and_then(|a| a.parse().ok())
            .unwrap_or(d)
    };
    let (steps, batch, side) = (arg(1, 10_000), arg(2, 16), arg(3, 64));
    let vs = nn::VarStore::new(Device::Cpu);
    let learnable = Learnable::All;
    let pipeline = Sequential::new(
        vs.root() / "aug",
        [
            AugSpec::RandomAffine(RandomAffineConfig {
                translate: Some((0.1, 0.1)),
                scale: Some((0.9, 1.1)),
                shear: Some((-10.0, 10.0)),
                p: 1.0,
                learnable: learnable.clone(),
                ..RandomAffineConfig::degrees(30.0)
            }),
            AugSpec::ColorJitter(JitterConfig {
                learnable,
                ..JitterConfig::new(0.2, 0.3, 0.2, 0.3)
            }),
            AugSpec::RandomHorizontalFlip(FlipConfig::default()),
            AugSpec::RandomResizedCrop(RandomResizedCropConfig::new((side / 2, side / 2))),
            AugSpec::Normalize(NormalizeConfig::imagenet()),
        ],
    )?;
    let mut opt = nn::Adam::default().build(&vs, 1e-3)?;
    let mut rng = Generator::new(0);
    let x = Tensor::rand([batch, 3, side, side], (Kind::Float, Device::Cpu));
    let file =
        std::env::temp_dir().join(format!("tch_dda_soak_{}.safetensors", std::process::id()));
    let start = Instant::now();
    let mut samples = Vec::new();
    println!("{steps} steps, batch {batch}x3x{side}x{side}");
    println!("{:>7} {:>9} {:>9}", "step", "RSS MiB", "seconds");
    let bar = common::progress(steps as u64, "soak");
    let mut losses = Vec::new();
    for step in 1..=steps {
        let out = rng.f_scope(|| pipeline.f_forward(&x))??;
        // Pull the output towards mid-grey: gradients reach every learnable range.
        let loss = (out - 0.5).square().mean(Kind::Float);
        opt.backward_step(&loss);
        bar.inc(1);
        if step % 1000 == 0 {
            pipeline.f_save(&file)?;
            let other = nn::VarStore::new(Device::Cpu);
            let back = Sequential::f_load(other.root(), &file)?;
            if back.ranges().len() != pipeline.ranges().len() {
                bail!("reloaded pipeline has other ranges");
            }
        }
        if step % 500 == 0 || step == steps {
            let rss = rss_mib();
            samples.push((step, rss));
            losses.push((step as f64, loss.double_value(&[])));
            let secs = start.elapsed().as_secs_f64();
            bar.suspend(|| println!("{step:>7} {rss:>9.1} {secs:>9.1}"));
        }
    }
    bar.finish_and_clear();
    let plot = concat!(env!("CARGO_MANIFEST_DIR"), "/out/soak.png");
    common::plot_panels(
        plot,
        &[
            common::Panel {
                title: "resident memory".into(),
                x_label: "step".into(),
                y_label: "RSS (MiB)".into(),
                curves: vec![common::Curve {
                    label: "RSS".into(),
                    points: samples.iter().map(|&(s, r)| (s as f64, r)).collect(),
                }],
            },
            common::Panel {
                title: "loss".into(),
                x_label: "step".into(),
                y_label: "loss".into(),
                curves: vec![common::Curve {
                    label: "loss".into(),
                    points: losses,
                }],
            },
        ],
    )?;
    println!("wrote {plot}");
    let _ = std::fs::remove_file(&file);
    // Warm-up: allocator pools and libtorch caches fill during the first 1,000 steps.
    let after_warmup = samples
        .iter()
        .find(|(s, _)| *s >= 1000.min(steps))
        .map_or(0.0, |(_, r)| *r);
    let last = samples.last().map_or(0.0, |(_, r)| *r);
    let max = samples.iter().map(|(_, r)| *r).fold(0.0, f64::max);
    println!(
        "RSS after warm-up {after_warmup:.1} MiB, at the end {last:.1} MiB (max {max:.1}): growth {:+.1} MiB over {} steps",
        last - after_warmup,
        steps - 1000.min(steps)
    );
    for r in pipeline.ranges() {
        let (lo, hi) = r.values();
        println!("  {:<12} ({lo:.4}, {hi:.4})", r.name());
    }
    if max - after_warmup > 32.0 {
        bail!("RSS grew by {:.1} MiB after warm-up", max - after_warmup);
    }
    Ok(())
}
