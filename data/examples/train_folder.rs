//! Trains a small network from a folder of JPEG files: the loader decodes them on worker
//! threads (with a random-resized crop), the augmentation runs in the graph on the device.
//!
//! `cargo run --release -p tch-dda-data --example train_folder`
//!
//! The dataset is made by `make_dataset` below from the crate's photos (assets/): crops of
//! the astronaut, the cat and the coffee cup, one class each, written as JPEG files into
//! target/data-example/{train,val}/<class>/.

use anyhow::Result;
use std::path::{Path, PathBuf};
use tch::nn::{self, Module, ModuleT, OptimizerConfig};
use tch::{Device, Kind, Tensor};
use tch_dda::prelude::*;
use tch_dda_data::{Dataset, Loader, LoaderConfig, Resize};

fn main() -> Result<()> {
    let root = make_dataset()?;
    let device = Device::cuda_if_available();

    // From here on, the user code: a loader, an augmentation, a network, a loop.
    let loader = Loader::new(
        Dataset::image_folder(root.join("train"))?,
        LoaderConfig {
            batch_size: 32,
            threads: 2,
            resize: Resize::random_resized_crop(64, 64),
            device,
            ..Default::default()
        },
    )?;
    let vs = nn::VarStore::new(device);
    let aug = Sequential::new(
        vs.root() / "aug",
        [
            AugSpec::RandomHorizontalFlip(FlipConfig::default()),
            AugSpec::ColorJitter(JitterConfig::new(0.2, 0.2, 0.2, 0.05)),
            AugSpec::Normalize(NormalizeConfig::imagenet()),
        ],
    )?;
    tch::manual_seed(0); // the network's initialisation
    let net = network(
        &(vs.root() / "net"),
        loader.dataset().classes().len() as i64,
    );
    let mut opt = nn::Adam::default().build(&vs, 2e-3)?;
    for epoch in 0..6 {
        let mut rng = loader.generator(epoch); // this rank's augmentation stream
        let mut batches = loader.epoch(epoch)?.with_progress();
        let mut losses = Vec::new();
        for batch in &mut batches {
            let batch = batch?;
            let x = batch.images.to_kind(Kind::Float) / 255.0;
            let x = rng.f_scope(|| aug.forward(&x))?;
            let loss = net
                .forward_t(&x, true)
                .cross_entropy_for_logits(&batch.labels);
            opt.backward_step(&loss);
            losses.push(loss.double_value(&[]));
        }
        let mean = losses.iter().sum::<f64>() / losses.len() as f64;
        println!("epoch {epoch}: loss {mean:.3}; {}", batches.summary());
    }

    // Evaluation: the centre crop at decode time, Normalize only (train_only skips the rest).
    let val = Loader::new(
        Dataset::image_folder(root.join("val"))?,
        LoaderConfig {
            batch_size: 64,
            shuffle: false,
            resize: Resize::ShorterThenCenter {
                shorter: 72,
                height: 64,
                width: 64,
            },
            device,
            ..Default::default()
        },
    )?;
    let eval_aug = aug.train_only();
    let (mut right, mut total) = (0i64, 0i64);
    for batch in val.epoch(0)? {
        let batch = batch?;
        let x = eval_aug.forward_t(&(batch.images.to_kind(Kind::Float) / 255.0), false);
        let guess = net.forward_t(&x, false).argmax(-1, false);
        right += guess
            .eq_tensor(&batch.labels)
            .sum(Kind::Int64)
            .int64_value(&[]);
        total += batch.indices.len() as i64;
    }
    println!(
        "validation accuracy: {right}/{total} ({:.0}%)",
        100.0 * right as f64 / total as f64
    );
    Ok(())
}

/// A small convolutional network.
fn network(p: &nn::Path, classes: i64) -> impl ModuleT {
    let conv = |i, o, name: &str| {
        nn::conv2d(
            p / name,
            i,
            o,
            3,
            nn::ConvConfig {
                padding: 1,
                ..Default::default()
            },
        )
    };
    nn::seq_t()
        .add(conv(3, 16, "c1"))
        .add_fn(|x| x.relu().max_pool2d_default(2))
        .add(conv(16, 32, "c2"))
        .add_fn(|x| x.relu().max_pool2d_default(2))
        .add(conv(32, 64, "c3"))
        .add_fn(|x| x.relu().adaptive_avg_pool2d([1, 1]).flatten(1, -1))
        .add(nn::linear(p / "fc", 64, classes, Default::default()))
}

/// Writes `per_class` training and `per_class / 3` validation crops of each photo as JPEG
/// files (once; later runs reuse them). Crop positions and sizes come from torch's RNG,
/// seeded, so the dataset is the same on every machine.
fn make_dataset() -> Result<PathBuf> {
    let assets = Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/data-example");
    if root.join("done").exists() {
        return Ok(root);
    }
    let per_class = 96;
    tch::manual_seed(0);
    for name in ["astronaut", "chelsea", "coffee"] {
        let photo = image::open(assets.join(format!("{name}.png")))?.to_rgb8();
        let side = photo.width().min(photo.height()) as f64;
        for (split, n) in [("train", per_class), ("val", per_class / 3)] {
            let dir = root.join(split).join(name);
            std::fs::create_dir_all(&dir)?;
            let u = Vec::<f64>::try_from(&Tensor::rand([n * 3], (Kind::Double, Device::Cpu)))?;
            for (k, u) in u.chunks_exact(3).enumerate() {
                let s = (side * (0.35 + 0.4 * u[0])) as u32;
                let x = ((photo.width() - s) as f64 * u[1]) as u32;
                let y = ((photo.height() - s) as f64 * u[2]) as u32;
                let crop = image::imageops::crop_imm(&photo, x, y, s, s).to_image();
                let small = image::imageops::resize(&crop, 96, 96, image::imageops::Triangle);
                small.save(dir.join(format!("{k:03}.jpg")))?;
            }
        }
    }
    std::fs::write(root.join("done"), "")?;
    Ok(root)
}
