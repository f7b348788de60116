//! The paper's pipeline: RandomAffine(30, translate 0.1, scale 0.9-1.1, shear 10) +
//! ColorJitter(0.2, 0.3, 0.2, 0.3) + Normalize(ImageNet), all p = 1, float32, forward
//! only (no graph: inputs do not require grad), on the CPU and on CUDA when available.
//! scripts/bench_kornia.sh times Kornia 0.9 on the same shapes.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use std::time::{Duration, Instant};
use tch::{nn, Device, Kind, Tensor};
use tch_dda::*;

const SHAPES: [(&str, [i64; 4]); 4] = [
    ("b512_32x32", [512, 3, 32, 32]),
    ("b64_224x224", [64, 3, 224, 224]),
    ("b16_512x512", [16, 3, 512, 512]),
    ("b1_224x224", [1, 3, 224, 224]),
];

fn pipeline(vs: &nn::VarStore) -> Sequential {
    Sequential::new(
        &(vs.root() / "paper"),
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
            AugSpec::Normalize(NormalizeConfig::imagenet()),
        ],
    )
    .expect("valid pipeline")
}

fn bench_device(c: &mut Criterion, device: Device, group_name: &str) {
    let vs = nn::VarStore::new(device);
    let seq = pipeline(&vs);
    let mut group = c.benchmark_group(group_name);
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    for (id, shape) in SHAPES {
        let x = Tensor::rand(shape, (Kind::Float, device));
        group.bench_with_input(BenchmarkId::from_parameter(id), &x, |b, x| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    if let Device::Cuda(i) = device {
                        tch::Cuda::synchronize(i as i64);
                    }
                    let t = Instant::now();
                    let y = seq.f_forward(x).expect("forward");
                    if let Device::Cuda(i) = device {
                        tch::Cuda::synchronize(i as i64);
                    }
                    total += t.elapsed();
                    drop(y);
                }
                total
            })
        });
    }
    group.finish();
}

fn benches(c: &mut Criterion) {
    tch::manual_seed(0);
    bench_device(c, Device::Cpu, "paper_pipeline");
    if tch::Cuda::is_available() {
        bench_device(c, Device::Cuda(0), "paper_pipeline_cuda");
    }
}

criterion_group!(paper, benches);
criterion_main!(paper);
