//! MixUp and CutMix in a tch training loop: a small CNN learns a synthetic 4-class task
//! (a bright square in one of four quadrants, on noise) from mixed batches and their mixed
//! labels, with the soft-target cross-entropy. It prints the mixed-batch loss as it goes
//! and the accuracy on clean held-out images at the end.
//!
//! `cargo run --release --example mix_training`

mod common;
use anyhow::Result;
use tch::nn::{self, Module, OptimizerConfig};
use tch::{Device, Kind, Tensor};
use tch_dda::*;

/// `n` images (n,3,16,16) of class `i % 4`: noise plus a bright 6×6 square in quadrant `i % 4`.
fn dataset(n: i64, device: Device) -> (Tensor, Tensor) {
    let x = Tensor::rand([n, 3, 16, 16], (Kind::Float, device)) * 0.5;
    let y = Tensor::arange(n, (Kind::Int64, device)).remainder(4);
    let rows = Tensor::arange(16, (Kind::Int64, device)).view([1, 16, 1]);
    let cols = Tensor::arange(16, (Kind::Int64, device)).view([1, 1, 16]);
    let top = (y.divide_scalar_mode(2, "floor") * 8 + 1).view([-1, 1, 1]);
    let left = (y.remainder(2) * 8 + 1).view([-1, 1, 1]);
    let inside = rows
        .ge_tensor(&top)
        .logical_and(&rows.lt_tensor(&(&top + 6)))
        .logical_and(&cols.ge_tensor(&left))
        .logical_and(&cols.lt_tensor(&(&left + 6)));
    let x = x + inside.unsqueeze(1).to_kind(Kind::Float) * 0.5;
    (x, y)
}

fn main() -> Result<()> {
    let device = common::default_device();
    tch::manual_seed(0);
    let (train_x, train_y) = dataset(512, device);
    let (test_x, test_y) = dataset(256, device);

    let vs = nn::VarStore::new(device);
    let root = vs.root();
    let net = nn::seq()
        .add(nn::conv2d(&root / "c1", 3, 16, 3, Default::default()))
        .add_fn(|x| x.relu().max_pool2d_default(2))
        .add(nn::conv2d(&root / "c2", 16, 32, 3, Default::default()))
        .add_fn(|x| x.relu().adaptive_avg_pool2d([1, 1]).flatten(1, -1))
        .add(nn::linear(&root / "fc", 32, 4, Default::default()));
    let mut opt = nn::Adam::default().build(&vs, 3e-3)?;

    let aug_vs = nn::VarStore::new(device);
    let mixup = RandomMixUp::new(&(aug_vs.root() / "mixup"), MixUpConfig::default())?;
    let cutmix = RandomCutMix::new(
        &(aug_vs.root() / "cutmix"),
        CutMixConfig {
            use_correct_lambda: true,
            ..Default::default()
        },
    )?;

    let batch = 64;
    for step in 0..300 {
        let idx = Tensor::randint(512, [batch], (Kind::Int64, device));
        let (x, y) = (train_x.index_select(0, &idx), train_y.index_select(0, &idx));
        // Alternate the two mixes; each returns images and Kornia's label tensor, and knows
        // which label its lambda weighs, so its loss is one call.
        let mixer: &dyn MixAugmentation = if step % 2 == 0 { &mixup } else { &cutmix };
        let (x, labels) = mixer.f_forward_with_labels(&x, &y)?;
        let loss = mixer.f_cross_entropy(&net.forward(&x), &labels)?;
        opt.backward_step(&loss);
        if step % 50 == 0 || step == 299 {
            println!(
                "step {step:3}  mixed-batch loss {:.4}",
                loss.double_value(&[])
            );
        }
    }
    let pred = tch::no_grad(|| net.forward(&test_x)).argmax(-1, false);
    let acc = pred
        .eq_tensor(&test_y)
        .to_kind(Kind::Float)
        .mean(Kind::Float);
    println!("clean test accuracy {:.3}", acc.double_value(&[]));
    Ok(())
}
