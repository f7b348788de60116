//! Fused geometry: RandomAffine + RandomRotation + RandomPerspective + RandomResizedCrop,
//! applied step by step (four bilinear resamplings, as Kornia and every other library do)
//! and with `fuse_geometry` (the four matrices composed, one resampling).
//!
//! Prints, for a batch of 64 photos of 224×224 on the CPU (CUDA when available):
//! - the time per batch of each, median and range over 15 runs;
//! - the sharpness each keeps: the PSNR against a float64 reference warp of the same
//!   input (one bicubic resampling by the composed matrix), over the pixels that every
//!   chain fills from the input (none of them sampled padding).
//!
//! `cargo run --release --example fused_geometry`

mod common;
use anyhow::Result;
use std::time::Instant;
use tch::{nn, Device, Kind, Tensor};
use tch_dda::*;

fn chain(fuse: bool) -> SequentialConfig {
    SequentialConfig {
        fuse_geometry: fuse,
        ..SequentialConfig::new(vec![
            AugSpec::RandomAffine(RandomAffineConfig {
                degrees: (-20.0, 20.0),
                translate: Some((0.05, 0.05)),
                scale: Some((0.9, 1.1)),
                shear: Some((-8.0, 8.0)),
                p: 1.0,
                ..Default::default()
            }),
            AugSpec::RandomRotation(RandomRotationConfig {
                degrees: (-20.0, 20.0),
                p: 1.0,
                ..Default::default()
            }),
            AugSpec::RandomPerspective(PerspectiveConfig {
                distortion_scale: 0.3,
                p: 1.0,
                ..Default::default()
            }),
            AugSpec::RandomResizedCrop(RandomResizedCropConfig {
                size: (224, 224),
                scale: (0.6, 1.0),
                ..Default::default()
            }),
        ])
    }
}

/// Median, min and max of `f`'s time in ms over `n` runs after two warm-ups.
fn time(
    device: Device,
    n: usize,
    mut f: impl FnMut() -> Result<Tensor>,
) -> Result<(f64, f64, f64)> {
    let mut t = Vec::new();
    for i in 0..n + 2 {
        common::sync(device);
        let start = Instant::now();
        let y = f()?;
        common::sync(device);
        if i >= 2 {
            t.push(start.elapsed().as_secs_f64() * 1e3);
        }
        drop(y);
    }
    t.sort_by(|a, b| a.total_cmp(b));
    Ok((t[t.len() / 2], t[0], t[t.len() - 1]))
}

/// PSNR (dB, peak 1) of `x` against `reference` over the pixels where `inside` is set.
fn psnr(x: &Tensor, reference: &Tensor, inside: &Tensor) -> f64 {
    let d = (x.to_kind(Kind::Double) - reference).square() * inside;
    let mse = d.sum(Kind::Double).double_value(&[])
        / (inside.sum(Kind::Double).double_value(&[]) * x.size()[1] as f64);
    -10.0 * mse.log10()
}

fn main() -> Result<()> {
    let device = common::default_device();
    let photos = common::load_photos(224, device)?;
    let batch = photos.repeat([22, 1, 1, 1]).narrow(0, 0, 64);
    let vs = nn::VarStore::new(device);
    let plain = Sequential::new(&(vs.root() / "plain"), chain(false))?;
    let fused = Sequential::new(&(vs.root() / "fused"), chain(true))?;
    tch::manual_seed(0);
    let params = plain.sample(&batch.size(), device)?;

    let (pm, plo, phi) = time(device, 15, || Ok(plain.f_apply(&batch, &params)?))?;
    let (fm, flo, fhi) = time(device, 15, || Ok(fused.f_apply(&batch, &params)?))?;
    println!("time per batch of 64x3x224x224 on {device:?}, median (min-max) of 15:");
    println!("  four resamplings: {pm:.1} ms ({plo:.1}-{phi:.1})");
    println!(
        "  fused, one:       {fm:.1} ms ({flo:.1}-{fhi:.1})  ({:.2}x)",
        fm / pm
    );

    // The reference: one float64 bicubic warp by the composed matrix.
    let t = plain.f_transform(&batch.size(), &params, Kind::Double, device)?;
    let x64 = batch.to_kind(Kind::Double);
    let bicubic = Sampling {
        resample: Resample::Bicubic,
        ..Sampling::bilinear(false)
    };
    let reference = t.f_warp(&x64, &[224, 224], &bicubic)?;
    // Inside: pixels every chain fills from the input (step by step, a pixel can pass
    // through an intermediate step's padding even where the composed source is inside).
    let ones = batch.ones_like();
    let full = |y: Tensor| y.narrow(1, 0, 1).ge(1.0 - 1e-6);
    let inside = full(t.f_warp(
        &ones.to_kind(Kind::Double),
        &[224, 224],
        &Sampling::bilinear(false),
    )?)
    .logical_and(&full(plain.f_apply(&ones, &params)?))
    .logical_and(&full(fused.f_apply(&ones, &params)?))
    .to_kind(Kind::Double);
    println!(
        "inside pixels: {:.1}% of the output",
        100.0 * inside.mean(Kind::Double).double_value(&[])
    );
    let y_plain = plain.f_apply(&batch, &params)?;
    let y_fused = fused.f_apply(&batch, &params)?;
    println!("PSNR against a float64 bicubic reference warp (inside pixels, 64 images):");
    println!(
        "  four resamplings: {:.2} dB",
        psnr(&y_plain, &reference, &inside)
    );
    println!(
        "  fused, one:       {:.2} dB",
        psnr(&y_fused, &reference, &inside)
    );
    Ok(())
}
