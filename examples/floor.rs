//! The paper pipeline against the libtorch floor, forward and forward + backward, at the four
//! shapes of issue 11, in one run: the ratio that says how far the crate is from plain
//! libtorch.
//!
//! The pipeline: RandomAffine(30°, translate 0.1, scale 0.9–1.1, shear 10) + ColorJitter(0.2,
//! 0.3, 0.2, 0.3) + Normalize(ImageNet), all p = 1, float32, in the exact mode (the default,
//! equal to Kornia) and in the fast mode (`SequentialConfig::fast`: the colour steps and the
//! normalisation fused into one pass). The floor is what no
//! augmentation library can go below with libtorch ops: one `affine_grid` + `grid_sample`
//! with per-sample matrices, one `x·a + b` clamp pass (a lower bound for the colour steps: no
//! saturation, no hue) and the normalisation. Forward runs without a graph; forward +
//! backward takes an input that requires grad and calls `backward` on the output's sum.
//!
//! Each shape is timed in `--rounds` rounds (default 3); a round times the floor and the
//! pipeline alternately, several calls each, and keeps each one's median. The table gives
//! the median over rounds and the spread of the ratio over the rounds.
//!
//! `cargo run --release --example floor [-- --rounds 3] [--tuned]`
//!
//! `--tuned` calls [`tune_cpu_allocator`] first (both sides benefit). Writes out/floor.md and
//! out/floor.png (`--tuned`: out/floor_tuned.*).

mod common;
#[path = "common/floor.rs"]
mod floor;
use anyhow::{Context, Result};
use floor::floor;
use std::time::Instant;
use tch::{nn, Device, Kind, Tensor};
use tch_dda::*;

const SHAPES: [[i64; 4]; 4] = [
    [512, 3, 32, 32],
    [64, 3, 224, 224],
    [16, 3, 512, 512],
    [1, 3, 224, 224],
];

/// The median time of `calls` calls of `f`, in ms (a warm-up call first).
fn median_ms(calls: usize, f: &dyn Fn()) -> f64 {
    f();
    let mut t: Vec<f64> = (0..calls)
        .map(|_| {
            let s = Instant::now();
            f();
            s.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    t.sort_by(f64::total_cmp);
    t[t.len() / 2]
}

struct Row {
    shape: [i64; 4],
    backward: bool,
    floor: Vec<f64>,
    ours: Vec<f64>,
    fast: Vec<f64>,
}

impl Row {
    fn ratios(&self) -> Vec<f64> {
        ratios(&self.ours, &self.floor)
    }

    fn fast_ratios(&self) -> Vec<f64> {
        ratios(&self.fast, &self.floor)
    }
}

fn ratios(a: &[f64], floor: &[f64]) -> Vec<f64> {
    a.iter().zip(floor).map(|(o, f)| o / f).collect()
}

fn med(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn range(v: &[f64]) -> (f64, f64) {
    v.iter()
        .fold((f64::MAX, f64::MIN), |(a, b), &x| (a.min(x), b.max(x)))
}

fn main() -> Result<()> {
    let (mut rounds, mut tuned) = (3usize, false);
    let mut argv = std::env::args().skip(1);
    while let Some(flag) = argv.next() {
        match flag.as_str() {
            "--rounds" => {
                rounds = argv
                    .next()
                    .context("--rounds takes a value")?
                    .parse()
                    .context("--rounds takes a whole number")?
            }
            "--tuned" => tuned = true,
            o => anyhow::bail!("unknown option {o}; usage: floor [--rounds N] [--tuned]"),
        }
    }
    anyhow::ensure!(rounds >= 1, "--rounds must be at least 1");
    if tuned {
        anyhow::ensure!(
            tune_cpu_allocator(),
            "--tuned needs glibc (tune_cpu_allocator did nothing here)"
        );
    }
    let device = Device::Cpu;
    let vs = nn::VarStore::new(device);
    let seq = floor::paper_pipeline(&vs, false)?;
    let fast = floor::paper_pipeline(&vs, true)?;
    let mut rows = Vec::new();
    let total = (SHAPES.len() * 2 * rounds) as u64;
    let bar = common::progress(total, "floor");
    for shape in SHAPES {
        let x = Tensor::rand(shape, (Kind::Float, device));
        let pixels = (shape[0] * shape[2] * shape[3]) as f64;
        // About 2 s per shape and mode.
        let calls = ((3e7 / pixels) as usize).clamp(3, 200);
        for backward in [false, true] {
            let mut row = Row {
                shape,
                backward,
                floor: Vec::new(),
                ours: Vec::new(),
                fast: Vec::new(),
            };
            for _ in 0..rounds {
                let run = |f: &dyn Fn(&Tensor) -> Tensor| {
                    if backward {
                        let xg = x.detach().set_requires_grad(true);
                        f(&xg).sum(Kind::Float).backward();
                    } else {
                        let _g = tch::no_grad_guard();
                        let _ = f(&x);
                    }
                };
                let f_floor = || run(&floor);
                let f_ours = || run(&|x: &Tensor| seq.f_forward(x).expect("paper pipeline"));
                let f_fast = || run(&|x: &Tensor| fast.f_forward(x).expect("fast pipeline"));
                row.floor.push(median_ms(calls, &f_floor));
                row.ours.push(median_ms(calls, &f_ours));
                row.fast.push(median_ms(calls, &f_fast));
                bar.inc(1);
            }
            rows.push(row);
        }
    }
    bar.finish_and_clear();

    let mut md = String::from(
        "| shape | pass | floor ms | exact ms | exact / floor (median, min–max) | fast ms | fast / floor (median, min–max) |\n|---|---|---|---|---|---|---|\n",
    );
    for r in &rows {
        let [b, _, h, w] = r.shape;
        let ratios = r.ratios();
        let (lo, hi) = range(&ratios);
        let fast = r.fast_ratios();
        let (flo, fhi) = range(&fast);
        let side = if h == w {
            format!("{h}²")
        } else {
            format!("{h}×{w}")
        };
        md += &format!(
            "| {b}×{side} | {} | {:.2} | {:.2} | {:.2} ({lo:.2}–{hi:.2}) | {:.2} | {:.2} ({flo:.2}–{fhi:.2}) |\n",
            if r.backward {
                "forward + backward"
            } else {
                "forward"
            },
            med(&r.floor),
            med(&r.ours),
            med(&ratios),
            med(&r.fast),
            med(&fast),
        );
    }
    println!(
        "{rounds} rounds, {} threads\n\n{md}",
        tch::get_num_threads()
    );
    let out = concat!(env!("CARGO_MANIFEST_DIR"), "/out");
    std::fs::create_dir_all(out)?;
    let name = if tuned { "floor_tuned" } else { "floor" };
    std::fs::write(format!("{out}/{name}.md"), &md)?;
    let curve = |backward: bool, pick: &dyn Fn(&Row) -> f64| -> Vec<(f64, f64)> {
        rows.iter()
            .filter(|r| r.backward == backward)
            .enumerate()
            .map(|(i, r)| ((i + 1) as f64, pick(r)))
            .collect()
    };
    let panel = |backward: bool| common::Panel {
        title: format!(
            "tch-dda / floor, {}",
            if backward {
                "forward + backward"
            } else {
                "forward"
            }
        ),
        x_label: "shape (1: 512x32², 2: 64x224², 3: 16x512², 4: 1x224²)".into(),
        y_label: "time ratio".into(),
        curves: vec![
            common::Curve {
                label: "exact (median)".into(),
                points: curve(backward, &|r| med(&r.ratios())),
            },
            common::Curve {
                label: "exact (max)".into(),
                points: curve(backward, &|r| range(&r.ratios()).1),
            },
            common::Curve {
                label: "fast (median)".into(),
                points: curve(backward, &|r| med(&r.fast_ratios())),
            },
            common::Curve {
                label: "fast (max)".into(),
                points: curve(backward, &|r| range(&r.fast_ratios()).1),
            },
        ],
    };
    common::plot_panels(&format!("{out}/{name}.png"), &[panel(false), panel(true)])?;
    println!("wrote {out}/{name}.md and {out}/{name}.png");
    Ok(())
}
