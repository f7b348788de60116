//! The paper's Example 2: learn ColorJitter's ranges with Adam.
//!
//! A target ColorJitter with fixed factors (brightness 1.25, contrast 0.75, saturation
//! 1.4, hue 0.08) turns photo crops into targets. A learnable ColorJitter starts from
//! neutral-ish ranges; each step both draw after the same seed (so they share `u` and the
//! step order), and Adam minimises the MSE between the two outputs. The learned ranges
//! collapse onto the target factors; the example prints the loss as it goes and the final
//! parameter error.
//!
//! `cargo run --release --example optimize_color_jitter`

mod common;
use anyhow::Result;
use tch::nn::{self, OptimizerConfig};
use tch::{Kind, Tensor};
use tch_dda::*;

fn main() -> Result<()> {
    let device = common::default_device();
    tch::manual_seed(0);
    let photos = common::load_photos(96, device)?;

    let target_vs = nn::VarStore::new(device);
    let t = [1.25, 0.75, 1.4, 0.08];
    let target = ColorJitter::new(
        target_vs.root(),
        JitterConfig {
            brightness: (t[0], t[0]),
            contrast: (t[1], t[1]),
            saturation: (t[2], t[2]),
            hue: (t[3], t[3]),
            ..Default::default()
        },
    )?;

    let vs = nn::VarStore::new(device);
    let learner = ColorJitter::new(
        &(vs.root() / "jitter"),
        JitterConfig {
            learnable: Learnable::All,
            ..JitterConfig::new(0.2, 0.2, 0.2, 0.05)
        },
    )?;
    let mut opt = nn::Adam::default().build(&vs, 0.01)?;
    let names = ["brightness", "contrast", "saturation", "hue"];
    let error = |r: Vec<&Range>| -> f64 {
        r.iter()
            .zip(t)
            .map(|(r, t)| {
                let (lo, hi) = r.values();
                (lo - t).abs().max((hi - t).abs())
            })
            .fold(0.0, f64::max)
    };
    println!("target factors: {names:?} = {t:?}");
    println!(
        "initial max |range end - target| = {:.4}",
        error(learner.ranges())
    );
    for step in 0..=300 {
        // Random 64x64 crops of the photos, 12 per step.
        let idx = Tensor::randint(3, [12], (Kind::Int64, device));
        let ox = i64::from(step * 7 % 32);
        let x = photos
            .index_select(0, &idx)
            .narrow(2, ox, 64)
            .narrow(3, 32 - ox / 2, 64);
        let seed = 1000 + step as i64;
        tch::manual_seed(seed);
        let y_target = tch::no_grad(|| target.f_forward(&x))?;
        tch::manual_seed(seed);
        let y = learner.f_forward(&x)?;
        let loss = (y - y_target).square().mean(Kind::Float);
        opt.backward_step(&loss);
        if step % 50 == 0 {
            let ranges: Vec<String> = learner
                .ranges()
                .iter()
                .map(|r| {
                    let (lo, hi) = r.values();
                    format!("({lo:.3}, {hi:.3})")
                })
                .collect();
            println!(
                "step {step:4}  loss {:.6}  ranges {}",
                loss.double_value(&[]),
                ranges.join(" ")
            );
        }
    }
    let err = error(learner.ranges());
    println!("final max |range end - target| = {err:.2e}");
    Ok(())
}
