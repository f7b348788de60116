//! Faster AutoAugment (Hataya et al., 2019) on a real small dataset: search a policy by
//! gradient descent, then train a classifier with no augmentation, with RandAugment, and with
//! the found policy, and compare their test accuracy over several seeds.
//!
//! Data: scikit-learn's 8×8 handwritten digits (assets/digits, 1,797 images, CC BY 4.0),
//! upsampled to 32×32 RGB; a fixed split of 500 training and 1,297 test images.
//!
//! Search: a [`DifferentiablePolicy`] (10 sub-policies × 2 stages over 14 operations)
//! augments one half of each batch; a critic with a classification head (WGAN-GP) tells the
//! augmented half from the other, real half. The policy is trained to fool the critic while
//! keeping the images classifiable (the paper's objective), the critic to tell them apart.
//!
//! `cargo run --release --example policy_search [-- --epochs 100 --seeds 5 --search-epochs 40 --search-seed 0]`
//!
//! Writes out/policy_search/found_policy.json and out/policy_search/curves.png.

mod common;
use anyhow::{Context, Result};
use tch::nn::{self, ModuleT, OptimizerConfig};
use tch::{Device, Kind, Tensor};
use tch_dda::auto::search::{gradient_penalty, DifferentiablePolicy, SearchConfig};
use tch_dda::*;

const TRAIN: i64 = 500;
const BATCH: i64 = 50;

/// A small CNN: three conv blocks, global pooling, a classification head and (for the
/// critic) a score head.
#[derive(Debug)]
struct Net {
    body: nn::SequentialT,
    classes: nn::Linear,
    score: nn::Linear,
}

impl Net {
    /// `batch_norm`: the classifier's; the critic has none (a gradient penalty is per sample).
    fn new(p: &nn::Path, batch_norm: bool) -> Net {
        let conv = |p: nn::Path, i, o| {
            nn::conv2d(
                p,
                i,
                o,
                3,
                nn::ConvConfig {
                    padding: 1,
                    ..Default::default()
                },
            )
        };
        let mut body = nn::seq_t().add_fn(|x| (x - 0.5) / 0.5);
        for (i, (cin, cout)) in [(3, 16), (16, 32), (32, 64)].into_iter().enumerate() {
            body = body.add(conv(p / format!("c{i}"), cin, cout));
            if batch_norm {
                body = body.add(nn::batch_norm2d(
                    p / format!("b{i}"),
                    cout,
                    Default::default(),
                ));
            }
            body = if i < 2 {
                body.add_fn(|x| x.relu().max_pool2d_default(2))
            } else {
                body.add_fn(|x| x.relu().adaptive_avg_pool2d([1, 1]).flatten(1, -1))
            };
        }
        Net {
            body,
            classes: nn::linear(p / "classes", 64, 10, Default::default()),
            score: nn::linear(p / "score", 64, 1, Default::default()),
        }
    }

    fn features(&self, x: &Tensor, train: bool) -> Tensor {
        self.body.forward_t(x, train)
    }

    fn logits(&self, x: &Tensor, train: bool) -> Tensor {
        self.features(x, train).apply(&self.classes)
    }
}

struct Args {
    epochs: i64,
    seeds: i64,
    search_epochs: i64,
    search_seed: i64,
}

fn args() -> Result<Args> {
    let mut a = Args {
        epochs: 100,
        seeds: 5,
        search_epochs: 40,
        search_seed: 0,
    };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    for pair in argv.chunks(2) {
        let v: i64 = pair
            .get(1)
            .context("each option takes a value")?
            .parse()
            .context("a whole number")?;
        match pair[0].as_str() {
            "--epochs" => a.epochs = v,
            "--seeds" => a.seeds = v,
            "--search-epochs" => a.search_epochs = v,
            "--search-seed" => a.search_seed = v,
            o => anyhow::bail!(
                "unknown option {o}; use --epochs, --seeds, --search-epochs, --search-seed"
            ),
        }
    }
    Ok(a)
}

/// The digits as (N,3,32,32) in [0, 1], labels, and a fixed train/test split.
fn data() -> Result<(Tensor, Tensor, Tensor, Tensor)> {
    let (x, y) = common::load_digits()?;
    let x = x
        .upsample_bilinear2d([32, 32], false, None, None)
        .clamp(0.0, 1.0)
        .expand([-1, 3, 32, 32], false)
        .contiguous();
    tch::manual_seed(1234);
    let perm = Tensor::randperm(x.size()[0], (Kind::Int64, Device::Cpu));
    let (tr, te) = (
        perm.narrow(0, 0, TRAIN),
        perm.narrow(0, TRAIN, x.size()[0] - TRAIN),
    );
    Ok((
        x.index_select(0, &tr),
        y.index_select(0, &tr),
        x.index_select(0, &te),
        y.index_select(0, &te),
    ))
}

fn accuracy(net: &Net, x: &Tensor, y: &Tensor) -> f64 {
    tch::no_grad(|| {
        let pred = net.logits(x, false).argmax(-1, false);
        pred.eq_tensor(y)
            .to_kind(Kind::Double)
            .mean(Kind::Double)
            .double_value(&[])
    })
}

/// The search: returns the policy and the per-epoch (critic loss, policy loss).
fn search(
    vs: &nn::VarStore,
    policy: &DifferentiablePolicy,
    x: &Tensor,
    y: &Tensor,
    epochs: i64,
) -> Result<Vec<(f64, f64)>> {
    let cvs = nn::VarStore::new(Device::Cpu);
    let critic = Net::new(&cvs.root(), false);
    let mut copt = nn::Adam {
        beta1: 0.0,
        beta2: 0.999,
        ..Default::default()
    }
    .build(&cvs, 1e-3)?;
    let mut popt = nn::Adam {
        beta1: 0.0,
        beta2: 0.999,
        ..Default::default()
    }
    .build(vs, 1e-3)?;
    let steps = TRAIN / BATCH;
    let bar = common::progress((epochs * steps) as u64, "search");
    let mut curve = Vec::new();
    for _ in 0..epochs {
        let perm = Tensor::randperm(TRAIN, (Kind::Int64, Device::Cpu));
        let (mut lc, mut lp) = (0.0, 0.0);
        for s in 0..steps {
            let idx = perm.narrow(0, s * BATCH, BATCH);
            let (xb, yb) = (x.index_select(0, &idx), y.index_select(0, &idx));
            let half = BATCH / 2;
            let (xa, ya) = (xb.narrow(0, 0, half), yb.narrow(0, 0, half));
            let (xr, yr) = (xb.narrow(0, half, half), yb.narrow(0, half, half));
            // Critic: real scores up, augmented down, gradient penalty, classify the real half.
            let aug = policy.f_relaxed(&xa)?.detach();
            let score = |t: &Tensor| critic.features(t, true).apply(&critic.score).view([-1]);
            let real = critic.features(&xr, true);
            let d_real = real.apply(&critic.score).mean(Kind::Float);
            let d_fake = score(&aug).mean(Kind::Float);
            let gp = gradient_penalty(&score, &xr, &aug);
            let cls = real.apply(&critic.classes).cross_entropy_for_logits(&yr);
            let loss_c = &d_fake - &d_real + gp * 10.0 + cls;
            copt.backward_step(&loss_c);
            // Policy: look real to the critic and stay classifiable.
            let aug = policy.f_relaxed(&xa)?;
            let f = critic.features(&aug, true);
            let loss_p = -f.apply(&critic.score).mean(Kind::Float)
                + f.apply(&critic.classes).cross_entropy_for_logits(&ya) * 0.1;
            popt.backward_step(&loss_p);
            lc += loss_c.double_value(&[]);
            lp += loss_p.double_value(&[]);
            bar.inc(1);
        }
        curve.push((lc / steps as f64, lp / steps as f64));
    }
    bar.finish_and_clear();
    Ok(curve)
}

/// How a training batch is augmented.
enum Aug<'a> {
    None,
    Preset(&'a dyn Augmentation),
    Found(&'a DifferentiablePolicy),
}

/// Trains a classifier from scratch; returns the test accuracy every 5 epochs.
fn train(
    aug: &Aug,
    data: &(Tensor, Tensor, Tensor, Tensor),
    epochs: i64,
    seed: i64,
    what: &str,
) -> Result<Vec<(f64, f64)>> {
    let (x, y, xt, yt) = data;
    tch::manual_seed(seed);
    let vs = nn::VarStore::new(Device::Cpu);
    let net = Net::new(&vs.root(), true);
    let mut opt = nn::Sgd {
        momentum: 0.9,
        dampening: 0.0,
        wd: 5e-4,
        nesterov: true,
    }
    .build(&vs, 0.05)?;
    let steps = TRAIN / BATCH;
    let bar = common::progress((epochs * steps) as u64, what);
    let mut curve = Vec::new();
    for epoch in 0..epochs {
        // Cosine learning rate.
        let lr = 0.05 * 0.5 * (1.0 + (std::f64::consts::PI * epoch as f64 / epochs as f64).cos());
        opt.set_lr(lr);
        let perm = Tensor::randperm(TRAIN, (Kind::Int64, Device::Cpu));
        for s in 0..steps {
            let idx = perm.narrow(0, s * BATCH, BATCH);
            let (xb, yb) = (x.index_select(0, &idx), y.index_select(0, &idx));
            let xb = match aug {
                Aug::None => xb,
                Aug::Preset(a) => a.f_forward(&xb)?,
                Aug::Found(p) => p.f_sampled(&xb)?,
            };
            let loss = net.logits(&xb, true).cross_entropy_for_logits(&yb);
            opt.backward_step(&loss);
            bar.inc(1);
        }
        if (epoch + 1) % 5 == 0 || epoch + 1 == epochs {
            curve.push(((epoch + 1) as f64, accuracy(&net, xt, yt)));
        }
    }
    bar.finish_and_clear();
    Ok(curve)
}

/// The search space: the default operations but `color` (the identity on grey digits),
/// starting from a quarter of each operation's range.
fn search_config() -> SearchConfig {
    let d = SearchConfig::default();
    SearchConfig {
        operations: d
            .operations
            .into_iter()
            .filter(|&o| o != PolicyOp::Color)
            .collect(),
        init_magnitude: 0.25,
        ..SearchConfig::default()
    }
}

fn mean_sd(v: &[f64]) -> (f64, f64) {
    let m = v.iter().sum::<f64>() / v.len() as f64;
    let var = v.iter().map(|a| (a - m).powi(2)).sum::<f64>() / (v.len().max(2) - 1) as f64;
    (m, var.sqrt())
}

fn main() -> Result<()> {
    let args = args()?;
    tch::set_num_threads(tch::get_num_threads().max(1));
    let data = data()?;
    let out = concat!(env!("CARGO_MANIFEST_DIR"), "/out/policy_search");
    std::fs::create_dir_all(out)?;

    // 1. The search.
    tch::manual_seed(args.search_seed);
    let vs = nn::VarStore::new(Device::Cpu);
    let policy = DifferentiablePolicy::new(vs.root() / "policy", search_config())?;
    let t0 = std::time::Instant::now();
    let search_curve = search(&vs, &policy, &data.0, &data.1, args.search_epochs)?;
    let found = policy.found();
    std::fs::write(
        format!("{out}/found_policy.json"),
        serde_json::to_string_pretty(&found)?,
    )?;
    println!(
        "search: {} epochs in {:.1} s; critic loss {:.3} -> {:.3}, policy loss {:.3} -> {:.3}",
        args.search_epochs,
        t0.elapsed().as_secs_f64(),
        search_curve[0].0,
        search_curve.last().unwrap().0,
        search_curve[0].1,
        search_curve.last().unwrap().1
    );
    // The policy's average probability and selection weight per operation.
    let mut summary: Vec<(PolicyOp, f64, f64, Option<f64>)> = search_config()
        .operations
        .iter()
        .map(|&op| {
            let all: Vec<_> = found
                .sub_policies
                .iter()
                .flatten()
                .flatten()
                .filter(|o| o.op == op)
                .collect();
            let n = all.len() as f64;
            let w = all.iter().map(|o| o.weight).sum::<f64>() / n;
            let p = all.iter().map(|o| o.probability).sum::<f64>() / n;
            let m = op
                .has_magnitude()
                .then(|| all.iter().filter_map(|o| o.magnitude).sum::<f64>() / n);
            (op, w, p, m)
        })
        .collect();
    summary.sort_by(|a, b| (b.1 * b.2).total_cmp(&(a.1 * a.2)));
    println!("found policy (mean over stages; weight × probability first):");
    for (op, w, p, m) in &summary {
        let m = m.map_or("-".to_string(), |m| format!("{m:.2}"));
        println!(
            "  {:<14} weight {w:.3}  probability {p:.3}  magnitude {m}",
            op.name()
        );
    }

    // 2. Classifiers: none, RandAugment (n = 2, m = 9), the found policy.
    let rvs = nn::VarStore::new(Device::Cpu);
    let rand_augment = RandAugment::new(rvs.root(), RandAugmentConfig::new(2, 9.0))?;
    let configs: [(&str, Aug); 3] = [
        ("none", Aug::None),
        ("RandAugment", Aug::Preset(&rand_augment)),
        ("found policy", Aug::Found(&policy)),
    ];
    let mut results = Vec::new();
    let mut curves = Vec::new();
    for (name, aug) in &configs {
        let t0 = std::time::Instant::now();
        let mut finals = Vec::new();
        let mut mean_curve: Vec<(f64, f64)> = Vec::new();
        for seed in 0..args.seeds {
            let c = train(
                aug,
                &data,
                args.epochs,
                100 + seed,
                &format!("{name} s{seed}"),
            )?;
            finals.push(c.last().unwrap().1);
            if mean_curve.is_empty() {
                mean_curve = c.iter().map(|&(e, a)| (e, a / args.seeds as f64)).collect();
            } else {
                for (m, (_, a)) in mean_curve.iter_mut().zip(c) {
                    m.1 += a / args.seeds as f64;
                }
            }
        }
        let (m, sd) = mean_sd(&finals);
        println!(
            "{name:<13} test accuracy {m:.4} ± {sd:.4} (seeds: {:?}; {:.0} s)",
            finals.iter().map(|a| format!("{a:.4}")).collect::<Vec<_>>(),
            t0.elapsed().as_secs_f64()
        );
        results.push((name.to_string(), m, sd));
        curves.push(common::Curve {
            label: name.to_string(),
            points: mean_curve,
        });
    }
    let search_panel = common::Panel {
        title: "search (WGAN-GP)".into(),
        x_label: "epoch".into(),
        y_label: "loss".into(),
        curves: vec![
            common::Curve {
                label: "critic".into(),
                points: search_curve
                    .iter()
                    .enumerate()
                    .map(|(i, c)| ((i + 1) as f64, c.0))
                    .collect(),
            },
            common::Curve {
                label: "policy".into(),
                points: search_curve
                    .iter()
                    .enumerate()
                    .map(|(i, c)| ((i + 1) as f64, c.1))
                    .collect(),
            },
        ],
    };
    let acc_panel = common::Panel {
        title: format!("test accuracy (mean of {} seeds)", args.seeds),
        x_label: "epoch".into(),
        y_label: "accuracy".into(),
        curves,
    };
    common::plot_panels(&format!("{out}/curves.png"), &[search_panel, acc_panel])?;
    println!("wrote {out}/found_policy.json and {out}/curves.png");
    let (none, ra, found) = (results[0].1, results[1].1, results[2].1);
    println!(
        "found policy - none: {:+.4}; found policy - RandAugment: {:+.4}",
        found - none,
        found - ra
    );
    Ok(())
}
