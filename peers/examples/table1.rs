//! Table 1 of "Differentiable Data Augmentation with Kornia", on this machine: one epoch of
//! ResNet18 (tch's `vision::resnet`) on random images with random labels, the paper pipeline
//! (RandomAffine + ColorJitter + Normalize) applied by
//!
//! - nothing (the training alone: the floor of the epoch),
//! - tch-dda in the graph, exact mode and fast mode, on the uint8 batch as decoded,
//! - the Rust CPU pipeline a user would pick instead: kornia-rs per image over rayon, in a
//!   worker thread that feeds the same loop through a bounded channel (two batches ahead).
//!
//! The paper trains on a GPU at batch 512; here, on the CPU, each size takes a subset and a
//! smaller batch (printed with the table). Writes docs/bench/table1.md.
//!
//! `cargo run --release -p tch-dda-peers --example table1 [-- --sizes 32,224,512]
//!  [--scale 1.0]` (`--scale` multiplies the number of images per size).

#[path = "../../examples/common/floor.rs"]
mod floor;

use anyhow::{bail, Context, Result};
use std::sync::mpsc::sync_channel;
use std::time::Instant;
use tch::nn::ModuleT;
use tch::{nn, Device, Kind, Tensor};
use tch_dda::*;
use tch_dda_peers::cpu;

/// (side, images, batch) per size on this CPU.
fn plan(side: i64, scale: f64) -> Result<(i64, i64)> {
    let (images, batch) = match side {
        32 => (2560, 128),
        224 => (512, 32),
        512 => (128, 8),
        _ => bail!("sizes are 32, 224 or 512"),
    };
    let images = ((images as f64 * scale) as i64 / batch).max(1) * batch;
    Ok((images, batch))
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    None,
    Exact,
    Fast,
    CpuWorker,
}

impl Mode {
    fn label(self) -> &'static str {
        match self {
            Mode::None => "no augmentation",
            Mode::Exact => "tch-dda exact, in the graph",
            Mode::Fast => "tch-dda fast, in the graph",
            Mode::CpuWorker => "kornia-rs + rayon, worker thread",
        }
    }
}

/// One epoch: seconds.
fn epoch(mode: Mode, data: &Tensor, labels: &Tensor, batch: i64) -> Result<f64> {
    let device = Device::Cpu;
    let (_vs, net, mut opt) = floor::table1_net(device)?;
    let aug_vs = nn::VarStore::new(device);
    let seq = match mode {
        Mode::Exact => Some(floor::paper_pipeline(&aug_vs, false)?),
        Mode::Fast => Some(floor::paper_pipeline(&aug_vs, true)?),
        _ => None,
    };
    let n = data.size()[0];
    let steps = n / batch;
    let mean = Tensor::from_slice(&tch_dda_peers::MEAN).view([1, 3, 1, 1]);
    let std = Tensor::from_slice(&tch_dda_peers::STD).view([1, 3, 1, 1]);
    let mut train = |x: Tensor, y: &Tensor| {
        let loss = net.forward_t(&x, true).cross_entropy_for_logits(y);
        opt.backward_step(&loss);
    };
    // One step before the clock starts (libtorch's first-call set-up).
    let warm = (data.narrow(0, 0, batch).to_kind(Kind::Float) / 255.0 - &mean) / &std;
    train(warm, &labels.narrow(0, 0, batch));
    let start = Instant::now();
    if mode == Mode::CpuWorker {
        // The images as a data loader holds them: uint8 HWC, decoded once.
        let (_, images) = cpu::from_batch(&(data.to_kind(Kind::Float) / 255.0))?;
        let (tx, rx) = sync_channel::<Result<Tensor>>(2);
        let worker = std::thread::spawn(move || {
            for s in 0..steps {
                let chunk = &images[(s * batch) as usize..((s + 1) * batch) as usize];
                if tx.send(cpu::batch_u8(chunk, s as u64)).is_err() {
                    break;
                }
            }
        });
        for s in 0..steps {
            let x = rx.recv().context("the worker stopped")??;
            train(x, &labels.narrow(0, s * batch, batch));
        }
        worker
            .join()
            .map_err(|_| anyhow::anyhow!("the worker panicked"))?;
    } else {
        for s in 0..steps {
            let xb = data.narrow(0, s * batch, batch);
            let x = match &seq {
                Some(seq) => seq.f_forward(&xb)?,
                None => (xb.to_kind(Kind::Float) / 255.0 - &mean) / &std,
            };
            train(x, &labels.narrow(0, s * batch, batch));
        }
    }
    Ok(start.elapsed().as_secs_f64())
}

fn main() -> Result<()> {
    let mut sizes = vec![32i64, 224, 512];
    let mut scale = 1.0f64;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let v = args.next().with_context(|| format!("{a} takes a value"))?;
        match a.as_str() {
            "--sizes" => {
                sizes = v
                    .split(',')
                    .map(|s| s.trim().parse().context("--sizes: whole numbers"))
                    .collect::<Result<_>>()?
            }
            "--scale" => scale = v.parse().context("--scale: a number")?,
            o => bail!("unknown option {o}; usage: table1 [--sizes 32,224,512] [--scale F]"),
        }
    }
    let modes = [Mode::None, Mode::Exact, Mode::Fast, Mode::CpuWorker];
    let mut md = format!(
        "One epoch of ResNet18 on random images, CPU, {} threads for torch (and rayon's pool for \
         kornia-rs). Seconds per epoch (images per second).\n\n| size | images | batch |",
        tch::get_num_threads()
    );
    for m in modes {
        md += &format!(" {} |", m.label());
    }
    md += "\n|---|---|---|";
    md += &"---|".repeat(modes.len());
    md += "\n";
    for side in sizes {
        let (images, batch) = plan(side, scale)?;
        tch::manual_seed(1);
        let data = Tensor::randint(256, [images, 3, side, side], (Kind::Uint8, Device::Cpu));
        let labels = Tensor::randint(10, [images], (Kind::Int64, Device::Cpu));
        md += &format!("| {side}² | {images} | {batch} |");
        for mode in modes {
            let secs = epoch(mode, &data, &labels, batch)?;
            println!("{side}²: {}: {secs:.2} s", mode.label());
            md += &format!(" {secs:.1} ({:.0}/s) |", images as f64 / secs);
        }
        md += "\n";
    }
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/bench");
    std::fs::create_dir_all(dir)?;
    std::fs::write(format!("{dir}/table1.md"), &md)?;
    println!("\n{md}\nwrote docs/bench/table1.md");
    Ok(())
}
