//! The paper pipeline on a device (CUDA by default), synchronised timings: the exact mode,
//! the fast mode and the libtorch floor, forward and forward + backward, at 512×32²,
//! 64×224², 16×512², 1×224² and 512×224²; then Table 1 on that device: a ResNet18 training
//! step at 224², batch 512, with and without the pipeline in the graph.
//! scripts/bench_device.py times Kornia and torchvision v2 with the same protocol, and
//! scripts/device_report.py puts the three side by side (scripts/run_on_device.sh runs all).
//!
//! Protocol (bench_device.py's too): the input is drawn once on the device; each call is
//! bracketed by device synchronisations and timed on the host clock; a few warm-up calls
//! first; the median (with min and max) of `--runs` calls. Forward runs without a graph;
//! forward + backward takes an input that requires grad and calls `backward` on the output's
//! sum.
//!
//! With `--families FILE` (benches/families.json), also one operator per family at the file's
//! shape, read with `AugSpec::from_kornia` from Kornia's constructor call (bench_device.py
//! times Kornia on the same calls).
//!
//! `cargo run --release --example device_bench -- [--device cuda|cpu] [--runs N]
//!  [--out results.json] [--steps N] [--no-table1] [--no-pipeline] [--shapes quick]
//!  [--families benches/families.json]`

#[path = "common/floor.rs"]
mod floor;
use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use std::time::Instant;
use tch::nn::ModuleT;
use tch::{nn, Device, Kind, Tensor};
use tch_dda::*;

const SHAPES: [[i64; 4]; 5] = [
    [512, 3, 32, 32],
    [64, 3, 224, 224],
    [16, 3, 512, 512],
    [1, 3, 224, 224],
    [512, 3, 224, 224],
];

fn sync(device: Device) {
    if let Device::Cuda(i) = device {
        tch::Cuda::synchronize(i as i64);
    }
}

/// Milliseconds of each of `runs` calls of `f` after `warm` warm-up calls, each call between
/// two synchronisations.
fn timed(device: Device, warm: usize, runs: usize, f: &mut dyn FnMut()) -> Vec<f64> {
    for _ in 0..warm {
        f();
    }
    sync(device);
    (0..runs)
        .map(|_| {
            sync(device);
            let s = Instant::now();
            f();
            sync(device);
            s.elapsed().as_secs_f64() * 1e3
        })
        .collect()
}

fn record(who: &str, pass: &str, shape: &[i64], times: &[f64]) -> Value {
    record_family(who, None, pass, shape, times)
}

fn record_family(
    who: &str,
    family: Option<&str>,
    pass: &str,
    shape: &[i64],
    times: &[f64],
) -> Value {
    let mut t = times.to_vec();
    t.sort_by(f64::total_cmp);
    let median = t[t.len() / 2];
    println!(
        "{who:>22} {:>14} {pass:>17} {:>16}: median {median:8.3} ms (min {:.3}, max {:.3}, {} runs)",
        family.unwrap_or(""),
        format!("{shape:?}"),
        t[0],
        t[t.len() - 1],
        t.len()
    );
    let mut r = json!({"impl": who, "pass": pass, "shape": shape, "median_ms": median,
           "min_ms": t[0], "max_ms": t[t.len() - 1], "runs": t.len()});
    if let Some(f) = family {
        r["family"] = json!(f);
    }
    r
}

/// A timed implementation: its label and its forward.
type Timed = (&'static str, Box<dyn Fn(&Tensor) -> Tensor>);

fn pipelines(device: Device) -> Result<Vec<Timed>> {
    let vs = nn::VarStore::new(device);
    let exact = floor::paper_pipeline(&vs, false)?;
    let fast = floor::paper_pipeline(&vs, true)?;
    Ok(vec![
        (
            "tch-dda exact",
            Box::new(move |x: &Tensor| exact.f_forward(x).expect("exact pipeline")),
        ),
        (
            "tch-dda fast",
            Box::new(move |x: &Tensor| fast.f_forward(x).expect("fast pipeline")),
        ),
        ("libtorch floor", Box::new(floor::floor)),
    ])
}

fn bench_pipeline(device: Device, shapes: &[[i64; 4]], runs: usize) -> Result<Vec<Value>> {
    let mut out = Vec::new();
    for shape in shapes {
        let x = Tensor::rand(*shape, (Kind::Float, device));
        for (who, f) in pipelines(device)? {
            let t = timed(device, 3, runs, &mut || {
                tch::no_grad(|| {
                    let _ = f(&x);
                })
            });
            out.push(record(who, "forward", shape, &t));
            let t = timed(device, 3, runs, &mut || {
                let xg = x.detach().set_requires_grad(true);
                f(&xg).sum(Kind::Float).backward();
            });
            out.push(record(who, "forward+backward", shape, &t));
        }
    }
    Ok(out)
}

/// One operator per family (benches/families.json's list and shape), forward and, where the
/// output has a gradient, forward + backward.
fn bench_families(device: Device, path: &str, runs: usize, quick: bool) -> Result<Vec<Value>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?;
    let doc: Value = serde_json::from_str(&text).with_context(|| format!("{path}: JSON"))?;
    let shape: Vec<i64> = doc["shape"]
        .as_array()
        .context("families: no shape")?
        .iter()
        .map(|v| v.as_i64().context("families: a shape of integers"))
        .collect::<Result<_>>()?;
    // --shapes quick: a small batch (a dry run on a CPU).
    let shape = if quick { vec![2, 3, 64, 64] } else { shape };
    let vs = nn::VarStore::new(device);
    tch::manual_seed(0);
    let x = Tensor::rand(shape.as_slice(), (Kind::Float, device));
    let mut out = Vec::new();
    for f in doc["families"].as_array().context("families: no list")? {
        let family = f["family"].as_str().context("families: a family name")?;
        let class = f["class"].as_str().context("families: a class")?;
        let aug = AugSpec::from_kornia(class, &f["kwargs"])
            .with_context(|| class.to_string())?
            .build(&(vs.root() / family.replace(' ', "_")))?;
        let t = timed(device, 3, runs, &mut || {
            tch::no_grad(|| {
                let _ = aug.f_forward(&x).expect("forward");
            })
        });
        out.push(record_family(
            "tch-dda",
            Some(family),
            "forward",
            &shape,
            &t,
        ));
        let xg = x.detach().set_requires_grad(true);
        if !aug.f_forward(&xg)?.requires_grad() {
            continue;
        }
        let t = timed(device, 3, runs, &mut || {
            let xg = x.detach().set_requires_grad(true);
            aug.f_forward(&xg)
                .expect("forward")
                .sum(Kind::Float)
                .backward();
        });
        out.push(record_family(
            "tch-dda",
            Some(family),
            "forward+backward",
            &shape,
            &t,
        ));
    }
    Ok(out)
}

/// Table 1 on the device: ResNet18 (tch's `vision::resnet`) training steps at 224², batch
/// 512, on uint8 images drawn on the device, with the pipeline in the graph (exact and fast)
/// or without it (conversion and normalisation only).
fn table1(device: Device, steps: usize) -> Result<Vec<Value>> {
    let (batch, side) = (512i64, 224i64);
    tch::manual_seed(1);
    let data = Tensor::randint(256, [batch, 3, side, side], (Kind::Uint8, device));
    let labels = Tensor::randint(10, [batch], (Kind::Int64, device));
    let mean = Tensor::from_slice(&[0.485f32, 0.456, 0.406])
        .view([1, 3, 1, 1])
        .to_device(device);
    let std = Tensor::from_slice(&[0.229f32, 0.224, 0.225])
        .view([1, 3, 1, 1])
        .to_device(device);
    let mut rows = Vec::new();
    for mode in ["no augmentation", "tch-dda exact", "tch-dda fast"] {
        let (_vs, net, mut opt) = floor::table1_net(device)?;
        let aug_vs = nn::VarStore::new(device);
        let seq = match mode {
            "tch-dda exact" => Some(floor::paper_pipeline(&aug_vs, false)?),
            "tch-dda fast" => Some(floor::paper_pipeline(&aug_vs, true)?),
            _ => None,
        };
        let mut step = || {
            let x = match &seq {
                Some(seq) => seq.f_forward(&data).expect("pipeline"),
                None => (data.to_kind(Kind::Float) / 255.0 - &mean) / &std,
            };
            let loss = net.forward_t(&x, true).cross_entropy_for_logits(&labels);
            opt.backward_step(&loss);
        };
        let t = timed(device, 3, steps, &mut step);
        rows.push(record(mode, "resnet18 step", &[batch, 3, side, side], &t));
    }
    Ok(rows)
}

fn main() -> Result<()> {
    let mut device = if tch::Cuda::is_available() {
        Device::Cuda(0)
    } else {
        Device::Cpu
    };
    let (mut runs, mut steps, mut out, mut with_table1, mut quick) =
        (20usize, 10usize, None::<String>, true, false);
    let (mut with_pipeline, mut families) = (true, None::<String>);
    let mut argv = std::env::args().skip(1);
    while let Some(flag) = argv.next() {
        let mut value = || argv.next().with_context(|| format!("{flag} takes a value"));
        match flag.as_str() {
            "--device" => {
                device = match value()?.as_str() {
                    "cuda" => Device::Cuda(0),
                    "cpu" => Device::Cpu,
                    d => bail!("--device {d}: expected cuda or cpu"),
                }
            }
            "--runs" => runs = value()?.parse().context("--runs: a whole number")?,
            "--steps" => steps = value()?.parse().context("--steps: a whole number")?,
            "--out" => out = Some(value()?),
            "--no-table1" => with_table1 = false,
            "--no-pipeline" => with_pipeline = false,
            "--families" => families = Some(value()?),
            "--shapes" => match value()?.as_str() {
                "quick" => quick = true,
                "all" => quick = false,
                s => bail!("--shapes {s}: expected quick or all"),
            },
            o => bail!(
                "unknown option {o}; usage: device_bench [--device cuda|cpu] [--runs N] \
                 [--steps N] [--out FILE] [--no-table1] [--no-pipeline] [--shapes quick|all] \
                 [--families FILE]"
            ),
        }
    }
    anyhow::ensure!(
        runs >= 1 && steps >= 1,
        "--runs and --steps must be at least 1"
    );
    if device == Device::Cpu && tch::utils::has_cuda() && !tch::Cuda::is_available() {
        eprintln!("device_bench: libtorch has CUDA but sees no GPU; timing the CPU");
    }
    // --shapes quick: the two smallest (a dry run on a CPU).
    let shapes: Vec<[i64; 4]> = if quick {
        vec![SHAPES[0], SHAPES[3]]
    } else {
        SHAPES.to_vec()
    };
    println!(
        "device_bench: {device:?}, {runs} runs per figure, torch threads {}",
        tch::get_num_threads()
    );
    let mut records = Vec::new();
    if with_pipeline {
        records.extend(bench_pipeline(device, &shapes, runs)?);
    }
    if let Some(path) = &families {
        records.extend(bench_families(device, path, runs, quick)?);
    }
    if with_table1 {
        records.extend(table1(device, steps)?);
    }
    let doc = json!({
        "device": format!("{device:?}"),
        "protocol": "median of synchronised calls after 3 warm-up calls; forward without a graph",
        "records": records,
    });
    if let Some(path) = out {
        std::fs::write(&path, serde_json::to_string_pretty(&doc)?)
            .with_context(|| format!("writing {path}"))?;
        println!("wrote {path}");
    }
    Ok(())
}
