//! The Rust CPU peers of the paper pipeline at the four shapes, forward: kornia-rs per image
//! over rayon (uint8 and float32 HWC images in, the (B,3,H,W) float32 batch out) and the
//! per-sample tch loop. scripts/bench_all.sh runs it with the crate's benches and the Python
//! peers and writes the comparison.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use std::time::Duration;
use tch::{Device, Kind, Tensor};
use tch_dda_peers::{cpu, tch_loop, SplitMix, SHAPES};

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("peers");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    for (id, shape) in SHAPES {
        tch::manual_seed(0);
        let x = Tensor::rand(shape, (Kind::Float, Device::Cpu));
        let (f32s, u8s) = cpu::from_batch(&x).expect("HWC images");
        let mut seed = 0u64;
        group.bench_function(BenchmarkId::new("kornia-rs rayon (uint8)", id), |b| {
            b.iter(|| {
                seed += 1;
                cpu::batch_u8(&u8s, seed).expect("pipeline")
            })
        });
        group.bench_function(BenchmarkId::new("kornia-rs rayon (float32)", id), |b| {
            b.iter(|| {
                seed += 1;
                cpu::batch_f32(&f32s, seed).expect("pipeline")
            })
        });
        let mut rng = SplitMix(1);
        group.bench_function(BenchmarkId::new("tch per-sample loop", id), |b| {
            b.iter(|| {
                let _g = tch::no_grad_guard();
                tch_loop::paper(&x, &mut rng)
            })
        });
    }
    group.finish();
}

criterion_group!(peers, bench);
criterion_main!(peers);
