//! Learning patch orientation through a differentiable warp (AffNet-style; Mishkin et al.,
//! ECCV 2018, and the Kornia paper's example of ~600 lines of `grid_sample` code becoming ~30).
//!
//! Patches cut from two photos (assets/astronaut.png, assets/chelsea.png) are rotated by
//! known random angles with the crate's `RandomRotation` (replayed params). A small CNN
//! predicts a patch's orientation, as AffNet's orientation network does: each patch and its
//! rotated copy are de-rotated by their own predicted orientations, through the same warp,
//! and the loss is the photometric difference between the two de-rotated patches (each
//! view's reference is the other). No angle label reaches the loss: the gradient reaches the
//! network through the warp, and the loss is zero only when the predictions turn by the
//! rotation's angle. The error on held-out patches of a photo the network never saw
//! (assets/coffee.png) is `|φ(rotated) - φ(upright) - θ|`, in degrees, wrapped to [0, 180].
//! The angles are drawn over the whole circle, after a curriculum that starts at ±36°.
//!
//! `cargo run --release --example orientation [-- --steps 2000 --seed 0]`
//!
//! Writes out/orientation/curves.png (loss and held-out error) and out/orientation/patches.png
//! (held-out patches; rows: the upright and the rotated patch each de-rotated by its
//! prediction, which should match, then the upright and the rotated patch).

mod common;
use anyhow::{Context, Result};
use tch::nn::{self, ModuleT, OptimizerConfig};
use tch::{Device, Kind, Tensor};
use tch_dda::*;

/// The outer patch (rotated, then cropped to the inner one, which stays inside the outer
/// patch's inscribed disk at every angle, so no corner is ever empty).
const OUTER: i64 = 64;
/// The patch the network and the loss see.
const INNER: i64 = 32;
/// The angles drawn, in degrees: U(-MAX_ANGLE, MAX_ANGLE), the whole circle.
const MAX_ANGLE: f64 = 180.0;

// --- augmentation code: begin ---
/// Rotates (B,1,OUTER,OUTER) patches by `degrees` (B,) (differentiable in both) and keeps
/// the centre INNER×INNER.
struct Warp {
    rotate: RandomRotation,
    crop: CenterCrop,
}

impl Warp {
    fn new() -> Result<Warp> {
        let vs = nn::VarStore::new(Device::Cpu);
        let cfg = RandomRotationConfig {
            p: 1.0,
            ..RandomRotationConfig::degrees(180.0)
        };
        Ok(Warp {
            rotate: RandomRotation::new(vs.root(), cfg)?,
            crop: CenterCrop::new(vs.root(), CenterCropConfig::new((INNER, INNER)))?,
        })
    }

    /// The whole OUTER×OUTER patches, rotated.
    fn rotate(&self, patches: &Tensor, degrees: &Tensor) -> Result<Tensor> {
        let mut params = Params::new();
        params.insert("degrees", degrees.shallow_clone());
        Ok(self.rotate.f_apply(patches, &params)?)
    }

    /// Rotated, then their centre INNER×INNER.
    fn apply(&self, patches: &Tensor, degrees: &Tensor) -> Result<Tensor> {
        Ok(self.crop.f_forward(&self.rotate(patches, degrees)?)?)
    }
}
// --- augmentation code: end ---

/// Lines of the augmentation code above (between the markers, without blank lines and
/// comments).
fn augmentation_lines() -> usize {
    let src = include_str!("orientation.rs");
    let begin = src.find("// --- augmentation code: begin ---").unwrap_or(0);
    let end = src
        .find("// --- augmentation code: end ---")
        .unwrap_or(src.len());
    src[begin..end]
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("//"))
        .count()
}

/// The photos as grey (3,1,256,256).
fn photos() -> Result<Tensor> {
    let rgb = common::load_photos(256, Device::Cpu)?;
    let w = Tensor::from_slice(&[0.299f32, 0.587, 0.114]).view([1, 3, 1, 1]);
    Ok((rgb * w).sum_dim_intlist(1, true, Kind::Float))
}

/// `n` random OUTER×OUTER patches of the photos `which` (indices into `photos`).
fn patches(photos: &Tensor, which: &[i64], n: i64) -> Tensor {
    let size = photos.size()[2];
    let idx = Tensor::from_slice(which);
    let pick = Tensor::randint(which.len() as i64, [n], (Kind::Int64, Device::Cpu));
    let img = photos.index_select(0, &idx.index_select(0, &pick));
    // Crops by a translation warp: integer offsets, so no resampling blur.
    let off = Tensor::randint(size - OUTER, [n, 2], (Kind::Int64, Device::Cpu));
    let ys = off.select(1, 0).view([n, 1, 1])
        + Tensor::arange(OUTER, (Kind::Int64, Device::Cpu)).view([1, OUTER, 1]);
    let xs = off.select(1, 1).view([n, 1, 1])
        + Tensor::arange(OUTER, (Kind::Int64, Device::Cpu)).view([1, 1, OUTER]);
    let flat = img.view([n, size * size]);
    let lin = (ys * size + xs).view([n, OUTER * OUTER]);
    flat.gather(1, &lin, false).view([n, 1, OUTER, OUTER])
}

/// A small CNN predicting a patch's orientation as (cos, sin).
fn net(p: &nn::Path) -> nn::SequentialT {
    let mut seq = nn::seq_t().add_fn(|x| {
        // Per-patch standardisation: the angle, not the brightness, is what matters.
        let m = x.mean_dim(&[1i64, 2, 3][..], true, Kind::Float);
        let s = x.std_dim(&[1i64, 2, 3][..], true, true) + 1e-3;
        (x - m) / s
    });
    for (i, (cin, cout, stride)) in [(1, 32, 1), (32, 32, 2), (32, 64, 2), (64, 64, 2)]
        .into_iter()
        .enumerate()
    {
        let cfg = nn::ConvConfig {
            padding: 1,
            stride,
            bias: false,
            ..Default::default()
        };
        seq = seq
            .add(nn::conv2d(p / format!("c{i}"), cin, cout, 3, cfg))
            .add(nn::batch_norm2d(
                p / format!("b{i}"),
                cout,
                Default::default(),
            ))
            .add_fn(|x| x.relu());
    }
    seq.add_fn(|x| x.flatten(1, -1))
        .add(nn::linear(p / "fc1", 64 * 4 * 4, 128, Default::default()))
        .add_fn(|x| x.relu())
        .add(nn::linear(p / "fc2", 128, 2, Default::default()))
}

/// The predicted orientation in degrees.
fn angle(net: &nn::SequentialT, x: &Tensor, train: bool) -> Tensor {
    let cs = net.forward_t(x, train);
    cs.select(1, 1).atan2(&cs.select(1, 0)) * (180.0 / std::f64::consts::PI)
}

/// |a - b| wrapped to [0, 180].
fn angular_error(a: &Tensor, b: &Tensor) -> Tensor {
    let d = (a - b).remainder(360.0);
    d.minimum(&(360.0 - &d))
}

/// A disk mask (1,1,INNER,INNER): the loss ignores the corners.
fn disk() -> Tensor {
    let r = Tensor::arange(INNER, (Kind::Float, Device::Cpu)) - (INNER as f64 - 1.0) / 2.0;
    let d2 = r.view([-1, 1]).pow_tensor_scalar(2) + r.view([1, -1]).pow_tensor_scalar(2);
    d2.le((INNER as f64 / 2.0).powi(2))
        .to_kind(Kind::Float)
        .view([1, 1, INNER, INNER])
}

fn main() -> Result<()> {
    let (mut steps, mut seed) = (2000i64, 0i64);
    let argv: Vec<String> = std::env::args().skip(1).collect();
    for pair in argv.chunks(2) {
        let v: i64 = match pair {
            [_, v] => v.parse().context("options take a whole number")?,
            _ => anyhow::bail!("usage: orientation [--steps N] [--seed S]"),
        };
        match pair[0].as_str() {
            "--steps" => steps = v,
            "--seed" => seed = v,
            o => anyhow::bail!("unknown option {o}; usage: orientation [--steps N] [--seed S]"),
        }
    }
    let out = concat!(env!("CARGO_MANIFEST_DIR"), "/out/orientation");
    std::fs::create_dir_all(out)?;
    tch::manual_seed(seed);
    let photos = photos()?;
    let warp = Warp::new()?;
    let mask = disk();
    // A wide blur widens the basin of the photometric loss around the right angle.
    let blur = |x: &Tensor| {
        let b = |t: &Tensor| t.avg_pool2d([5, 5], [1, 1], [2, 2], false, false, None);
        b(&b(x))
    };
    let angles =
        |n: i64, widest: f64| (Tensor::rand([n], (Kind::Float, Device::Cpu)) * 2.0 - 1.0) * widest;

    // The held-out set: 512 patches of the coffee photo, each upright and rotated by a known
    // angle. The error is how far the predicted orientations differ from that angle.
    let test = patches(&photos, &[2], 512);
    let test_angles = angles(512, MAX_ANGLE);
    let test_upright = tch::no_grad(|| warp.apply(&test, &test_angles.zeros_like()))?;
    let test_rotated = tch::no_grad(|| warp.apply(&test, &test_angles))?;
    let median_error = |net: &nn::SequentialT| -> f64 {
        tch::no_grad(|| {
            let turn = angle(net, &test_rotated, false) - angle(net, &test_upright, false);
            angular_error(&turn, &test_angles)
                .median()
                .double_value(&[])
        })
    };

    let vs = nn::VarStore::new(Device::Cpu);
    let model = net(&vs.root());
    let mut opt = nn::Adam::default().build(&vs, 1e-3)?;
    let batch = 64;
    let bar = common::progress(steps as u64, "orientation");
    let (mut losses, mut errors) = (Vec::new(), vec![(0.0, median_error(&model))]);
    let mut running = 0.0;
    let t0 = std::time::Instant::now();
    for step in 1..=steps {
        // Cosine learning-rate decay, so that the last steps settle.
        opt.set_lr(1e-3 * 0.5 * (1.0 + (std::f64::consts::PI * step as f64 / steps as f64).cos()));
        let p = patches(&photos, &[0, 1], batch);
        // A curriculum: the angles widen from ±36 degrees to ±MAX_ANGLE over 70% of the steps.
        let widest = MAX_ANGLE * (0.2 + 0.8 * (step as f64 / (0.7 * steps as f64))).min(1.0);
        let theta = angles(batch, widest);
        let rotated_outer = tch::no_grad(|| warp.rotate(&p, &theta))?;
        let upright = tch::no_grad(|| warp.crop.f_forward(&p))?;
        let rotated = tch::no_grad(|| warp.crop.f_forward(&rotated_outer))?;
        // Each view is de-rotated by its own predicted orientation, through the same warp;
        // the two must then show the same patch.
        let a = warp.apply(&p, &(-angle(&model, &upright, true)))?;
        let b = warp.apply(&rotated_outer, &(-angle(&model, &rotated, true)))?;
        let diff = (blur(&a) - blur(&b)) * &mask;
        let loss =
            diff.pow_tensor_scalar(2).sum(Kind::Float) / (mask.sum(Kind::Float) * batch as f64);
        opt.backward_step(&loss);
        running += loss.double_value(&[]);
        if step % 50 == 0 {
            losses.push((step as f64, running / 50.0));
            running = 0.0;
            let e = median_error(&model);
            errors.push((step as f64, e));
            bar.set_message(format!("held-out median error {e:.1}°"));
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    let final_error = median_error(&model);
    // The same patches against the photo's own upright orientation (0 degrees).
    let absolute = tch::no_grad(|| {
        angular_error(&angle(&model, &test_rotated, false), &test_angles)
            .median()
            .double_value(&[])
    });
    let secs = t0.elapsed().as_secs_f64();

    // Held-out examples: upright, rotated, and both de-rotated by their predictions.
    let show = test.narrow(0, 0, 8);
    let show_angles = test_angles.narrow(0, 0, 8);
    let rows = tch::no_grad(|| -> Result<Vec<Tensor>> {
        let upright = warp.apply(&show, &show_angles.zeros_like())?;
        let rotated_outer = warp.rotate(&show, &show_angles)?;
        let rotated = warp.crop.f_forward(&rotated_outer)?;
        Ok(vec![
            warp.apply(&show, &(-angle(&model, &upright, false)))?,
            warp.apply(&rotated_outer, &(-angle(&model, &rotated, false)))?,
            upright,
            rotated,
        ])
    })?;
    let rgb: Vec<Tensor> = rows
        .iter()
        .map(|r| r.expand([-1, 3, INNER, INNER], false))
        .collect();
    common::write_grid(&rgb, &format!("{out}/patches.png"))?;
    common::plot_panels(
        &format!("{out}/curves.png"),
        &[
            common::Panel {
                title: "photometric loss (training)".into(),
                x_label: "step".into(),
                y_label: "loss".into(),
                curves: vec![common::Curve {
                    label: "loss".into(),
                    points: losses,
                }],
            },
            common::Panel {
                title: "held-out median angle error".into(),
                x_label: "step".into(),
                y_label: "degrees".into(),
                curves: vec![common::Curve {
                    label: "coffee.png".into(),
                    points: errors,
                }],
            },
        ],
    )?;
    println!(
        "orientation: {steps} steps of {batch} patch pairs in {secs:.0} s; angles U(-{MAX_ANGLE}, {MAX_ANGLE}) degrees"
    );
    println!(
        "held-out median angular error (512 patches of coffee.png, never seen): {final_error:.2} degrees (goal: under 10)"
    );
    println!(
        "  the rotated patches' predicted orientation against the known angle (the upright photo as 0): median {absolute:.2} degrees"
    );
    println!(
        "augmentation code in this example: {} lines",
        augmentation_lines()
    );
    println!("wrote {out}/curves.png and {out}/patches.png");
    Ok(())
}
