//! One operator per family (benches/families.json, read with `AugSpec::from_kornia` from
//! Kornia's constructor call, or for torchvision's from the crate's JSON), at the file's shape (64×3×224×224 float32), forward (no
//! graph) and forward + backward (an input that requires grad, `backward` on the output's
//! sum). scripts/bench_peers.py times Kornia on the same calls; scripts/bench_all.sh runs
//! both and writes the per-operator table.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use std::time::{Duration, Instant};
use tch::{nn, Device, Kind, Tensor};
use tch_dda::*;

/// A family: its name, its spec, and the number of labels of the label mask it is called
/// with (RandomTransplantation), if any.
type Family = (String, AugSpec, Option<i64>);

fn families() -> (Vec<i64>, Vec<Family>) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/families.json");
    let text = std::fs::read_to_string(path).expect("benches/families.json");
    let doc: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    let shape = doc["shape"]
        .as_array()
        .expect("shape")
        .iter()
        .map(|v| v.as_i64().expect("an integer size"))
        .collect();
    let torchvision = doc["torchvision"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|f| {
            let spec: AugSpec = serde_json::from_value(f["spec"].clone()).expect("a spec");
            (
                f["family"].as_str().expect("family").to_string(),
                spec,
                None,
            )
        });
    let list = doc["families"]
        .as_array()
        .expect("families")
        .iter()
        .map(|f| {
            let class = f["class"].as_str().expect("class");
            let spec = AugSpec::from_kornia(class, &f["kwargs"])
                .unwrap_or_else(|e| panic!("{class}: {e}"));
            let labels = f.get("mask_labels").and_then(|v| v.as_i64());
            (
                f["family"].as_str().expect("family").to_string(),
                spec,
                labels,
            )
        })
        .chain(torchvision)
        .collect();
    (shape, list)
}

fn bench(c: &mut Criterion) {
    let device = Device::Cpu;
    let (shape, list) = families();
    let vs = nn::VarStore::new(device);
    tch::manual_seed(0);
    let x = Tensor::rand(shape.as_slice(), (Kind::Float, device));
    let mut group = c.benchmark_group("family");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    for (family, spec, labels) in list {
        let aug = spec
            .build(&(vs.root() / family.replace(' ', "_")))
            .expect("builds");
        // The image through the step, alone or on a record with a label mask (B,1,H,W).
        let mask = labels.map(|n| {
            let mut s = shape.clone();
            s[1] = 1;
            Tensor::randint(n, s.as_slice(), (Kind::Int64, device)).to_kind(Kind::Float)
        });
        let forward = |x: &Tensor| -> Tensor {
            match &mask {
                None => aug.f_forward(x).expect("forward"),
                Some(m) => {
                    let batch = Batch {
                        masks: Some(m.shallow_clone()),
                        ..Batch::new(x.shallow_clone())
                    };
                    aug.f_forward_batch(&batch).expect("forward").0.image
                }
            }
        };
        for backward in [false, true] {
            if backward {
                // Only where the output has a gradient.
                let xg = x.detach().set_requires_grad(true);
                if !forward(&xg).requires_grad() {
                    continue;
                }
            }
            time_pass(&mut group, &family, &x, backward, &forward);
        }
    }
    containers(&mut group, &vs);
    group.finish();
}

/// Kornia's containers (the file's `containers`), each on its own shape.
fn containers(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    vs: &nn::VarStore,
) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/families.json");
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("families.json")).expect("JSON");
    for c in doc["containers"].as_array().into_iter().flatten() {
        let family = c["family"].as_str().expect("family");
        let source = c["python"].as_str().expect("python");
        let shape: Vec<i64> = c["shape"]
            .as_array()
            .expect("shape")
            .iter()
            .map(|v| v.as_i64().expect("a size"))
            .collect();
        let root = vs.root() / family;
        let forward: Box<dyn Fn(&Tensor) -> Tensor> = if source.contains("VideoSequential") {
            let cfg = VideoConfig::from_kornia_python(source).expect("a VideoSequential call");
            let video = VideoSequential::new(&root, cfg).expect("builds");
            Box::new(move |x| video.f_forward(x).expect("forward"))
        } else {
            let cfg = PatchConfig::from_kornia_python(source).expect("a PatchSequential call");
            let patch = PatchSequential::new(&root, cfg).expect("builds");
            Box::new(move |x| patch.f_forward(x).expect("forward"))
        };
        tch::manual_seed(0);
        let x = Tensor::rand(shape.as_slice(), (Kind::Float, Device::Cpu));
        for backward in [false, true] {
            time_pass(group, family, &x, backward, &forward);
        }
    }
}

/// Times `forward` on `x` (no graph), or forward + backward of its sum on a fresh leaf.
fn time_pass(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    family: &str,
    x: &Tensor,
    backward: bool,
    forward: &dyn Fn(&Tensor) -> Tensor,
) {
    let pass = if backward {
        "forward+backward"
    } else {
        "forward"
    };
    group.bench_with_input(BenchmarkId::new(pass, family), x, |b, x| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let t = Instant::now();
                if backward {
                    let xg = x.detach().set_requires_grad(true);
                    forward(&xg).sum(Kind::Float).backward();
                } else {
                    let _g = tch::no_grad_guard();
                    drop(forward(x));
                }
                total += t.elapsed();
            }
            total
        })
    });
}

criterion_group!(families_group, bench);
criterion_main!(families_group);
