//! Table 1 from files: the same JPEG files (target/bench-images, from
//! `python3 scripts/make_bench_images.py`) decoded with a random-resized crop to 224² on 2
//! decode threads by tch-dda-data's loader, then
//!
//! - nothing more (decode only),
//! - the paper pipeline (RandomAffine + ColorJitter + Normalize) by tch-dda in the graph,
//! - the paper pipeline by kornia-rs per image over rayon, in a worker thread two batches
//!   ahead (the Rust CPU pipeline a user would pick instead),
//!
//! each alone (images per second through the data stage) and feeding ResNet18 training steps
//! (tch's `vision::resnet`, SGD); the clock starts at the first batch.
//! `scripts/table1_files.py` measures PyTorch's DataLoader with torchvision v2 in 2 worker
//! processes on the same files. Writes target/table1_files.json (docs/data.md quotes three
//! runs, docs/bench/table1_files_runs.txt).
//!
//! `cargo bench -p tch-dda-peers -p tch-dda-data --bench table1_files [-- --steps 6]`

#[path = "../../examples/common/floor.rs"]
mod floor;

use anyhow::{Context, Result};
use kornia_image::{Image, ImageSize};
use std::sync::mpsc::sync_channel;
use std::time::Instant;
use tch::nn::ModuleT;
use tch::{nn, Device, Kind, Tensor};
use tch_dda::AugmentationExt;
use tch_dda_data::{Dataset, Loader, LoaderConfig, Resize};
use tch_dda_peers::cpu;

const BATCH: usize = 32;

#[derive(Clone, Copy, PartialEq, Debug)]
enum Aug {
    None,
    TchDda,
    KorniaRs,
}

fn loader(dir: &str) -> Result<Loader> {
    Ok(Loader::new(
        Dataset::image_folder(dir)?,
        LoaderConfig {
            batch_size: BATCH,
            threads: 2,
            prefetch: 4,
            drop_last: true,
            resize: Resize::random_resized_crop(224, 224),
            ..Default::default()
        },
    )?)
}

/// A (B,3,H,W) uint8 batch as kornia-rs HWC images.
fn to_images(x: &Tensor) -> Result<Vec<Image<u8, 3>>> {
    let s = x.size();
    let size = ImageSize {
        width: s[3] as usize,
        height: s[2] as usize,
    };
    let hwc = x.permute([0, 2, 3, 1]).contiguous();
    (0..s[0])
        .map(|i| {
            Ok(Image::new(
                size,
                Vec::<u8>::try_from(hwc.get(i).reshape([-1]))?,
            )?)
        })
        .collect()
}

/// Images per second through `steps` batches (all of an epoch when `None`), with ResNet18
/// training steps when `train`.
fn run(dir: &str, aug: Aug, train: bool, steps: Option<usize>) -> Result<f64> {
    let device = Device::Cpu;
    let loader = loader(dir)?;
    let (_vs, net, mut opt) = floor::table1_net(device)?;
    let aug_vs = nn::VarStore::new(device);
    let seq = floor::paper_pipeline(&aug_vs, false)?;
    let mean = Tensor::from_slice(&tch_dda_peers::MEAN).view([1, 3, 1, 1]);
    let std = Tensor::from_slice(&tch_dda_peers::STD).view([1, 3, 1, 1]);
    let mut step = |x: Tensor, y: &Tensor| {
        if train {
            let loss = net.forward_t(&x, true).cross_entropy_for_logits(y);
            opt.backward_step(&loss);
        }
    };
    if train {
        // One step before the clock starts (libtorch's first-call set-up).
        let x = Tensor::zeros([BATCH as i64, 3, 224, 224], (Kind::Float, device));
        step(x, &Tensor::zeros([BATCH as i64], (Kind::Int64, device)));
    }
    // The clock starts at the first batch (thread start-up left out, as in Python): images
    // of the later batches over the time from the first batch to the last step's end.
    let n = steps.map_or(loader.batches_per_epoch(), |s| s + 1);
    let mut start = None;
    let mut images = 0;
    let batches = loader.epoch(0)?.take(n);
    if aug == Aug::KorniaRs {
        let (tx, rx) = sync_channel::<Result<(Tensor, Tensor)>>(2);
        let worker = std::thread::spawn(move || {
            for (s, b) in batches.enumerate() {
                let r = b.map_err(anyhow::Error::from).and_then(|b| {
                    let x = cpu::batch_u8(&to_images(&b.images)?, s as u64)?;
                    Ok((x, b.labels))
                });
                if tx.send(r).is_err() {
                    break;
                }
            }
        });
        for r in rx {
            let (x, y) = r?;
            match start {
                None => start = Some(Instant::now()),
                Some(_) => images += x.size()[0] as usize,
            }
            step(x, &y);
        }
        worker
            .join()
            .map_err(|_| anyhow::anyhow!("the worker panicked"))?;
    } else {
        for b in batches {
            let b = b?;
            match start {
                None => start = Some(Instant::now()),
                Some(_) => images += b.indices.len(),
            }
            let x = match aug {
                // The uint8 batch as decoded: the pipeline converts it.
                Aug::TchDda => seq.f_forward(&b.images)?,
                _ => (b.images.to_kind(Kind::Float) / 255.0 - &mean) / &std,
            };
            step(x, &b.labels);
        }
    }
    let start = start.context("no batch")?;
    Ok(images as f64 / start.elapsed().as_secs_f64())
}

fn main() -> Result<()> {
    let mut steps = 6usize;
    let mut args = std::env::args().skip(1).filter(|a| a != "--bench");
    while let Some(a) = args.next() {
        match a.as_str() {
            "--steps" => steps = args.next().context("--steps N")?.parse()?,
            o => anyhow::bail!("unknown option {o}; usage: table1_files [--steps N]"),
        }
    }
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../target/bench-images");
    let mut rows = Vec::new();
    for train in [false, true] {
        for aug in [Aug::None, Aug::TchDda, Aug::KorniaRs] {
            let s = if train { Some(steps) } else { None };
            let ips = run(dir, aug, train, s)?;
            let what = if train {
                "with ResNet18 steps"
            } else {
                "data stage alone"
            };
            println!("{aug:?}, {what}: {ips:.1} images/s");
            rows.push(serde_json::json!({"aug": format!("{aug:?}"), "train": train, "images_per_second": ips}));
        }
    }
    let out = concat!(env!("CARGO_MANIFEST_DIR"), "/../target/table1_files.json");
    std::fs::write(out, serde_json::to_string_pretty(&rows)?)?;
    println!("wrote target/table1_files.json");
    Ok(())
}
