//! The paper's Example 1: an augmentation pipeline on real photos.
//!
//! Loads the sample photos in `assets/`, runs RandomAffine + ColorJitter + RandomCrop
//! (padded) + RandomHorizontalFlip on the default device (CUDA if available, else CPU),
//! writes a PNG grid (originals on top, one augmented draw per row below) and prints the
//! time per batch.
//!
//! `cargo run --release --example demo -- [output.png]`

mod common;
use anyhow::Result;
use std::time::Instant;
use tch::{nn, Device, Tensor};
use tch_dda::*;

fn main() -> Result<()> {
    let out = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "out/demo.png".to_string());
    let device = common::default_device();
    tch::manual_seed(0);
    let photos = common::load_photos(224, device)?;

    let vs = nn::VarStore::new(device);
    let pipeline = Sequential::new(
        &(vs.root() / "aug"),
        &[
            AugSpec::RandomAffine(RandomAffineConfig {
                degrees: (-30.0, 30.0),
                translate: Some((0.1, 0.1)),
                scale: Some((0.9, 1.1)),
                shear: Some((-10.0, 10.0)),
                p: 1.0,
                ..Default::default()
            }),
            AugSpec::ColorJitter(JitterConfig::new(0.2, 0.3, 0.2, 0.3)),
            AugSpec::RandomCrop(RandomCropConfig {
                size: (224, 224),
                padding: Some(vec![16]),
                padding_mode: CropPadding::Reflect,
                ..Default::default()
            }),
            AugSpec::RandomHorizontalFlip(FlipConfig::default()),
        ],
    )?;
    println!("pipeline ({device:?}):\n{}", pipeline.to_json()?);

    let mut rows = vec![photos.shallow_clone()];
    for _ in 0..4 {
        rows.push(pipeline.f_forward(&photos)?);
    }
    common::write_grid(&rows, &out)?;
    println!("wrote {out} (top row: originals; below: four augmented draws)");

    // Time per batch: the photos repeated to 64 images of 224x224.
    let batch = photos.repeat([22, 1, 1, 1]).narrow(0, 0, 64);
    let mut times = Vec::new();
    for i in 0..12 {
        common::sync(device);
        let t = Instant::now();
        let y = pipeline.f_forward(&batch)?;
        common::sync(device);
        if i >= 2 {
            times.push(t.elapsed().as_secs_f64() * 1e3);
        }
        drop(y);
    }
    times.sort_by(|a, b| a.total_cmp(b));
    println!(
        "time per batch of 64x3x224x224 on {device:?}: median {:.1} ms (min {:.1}, max {:.1}, 10 runs)",
        times[times.len() / 2],
        times[0],
        times[times.len() - 1]
    );
    let _ = Tensor::zeros([1], (tch::Kind::Float, Device::Cpu));
    Ok(())
}
