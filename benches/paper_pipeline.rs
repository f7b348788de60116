//! The paper's pipeline: RandomAffine(30, translate 0.1, scale 0.9-1.1, shear 10) +
//! ColorJitter(0.2, 0.3, 0.2, 0.3) + Normalize(ImageNet), all p = 1, float32, at four
//! shapes: in the exact mode (equal to Kornia), in the fast mode (`SequentialConfig::fast`)
//! and the libtorch floor (examples/common/floor.rs), each forward (no graph) and forward +
//! backward (an input that requires grad, `backward` on the output's sum); on the CPU and on
//! CUDA when available. Then a volume pipeline and MixUp + CutMix (forward).
//! `scripts/bench_all.sh` runs it with the peers and writes the comparison.

#[path = "../examples/common/floor.rs"]
mod floor;

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

/// A pipeline's forward.
type Pass<'a> = dyn Fn(&Tensor) -> Tensor + 'a;

/// One call of `f` on `x`: without a graph, or with one and its backward.
fn run(f: &dyn Fn(&Tensor) -> Tensor, x: &Tensor, backward: bool) {
    if backward {
        let xg = x.detach().set_requires_grad(true);
        f(&xg).sum(Kind::Float).backward();
    } else {
        let _g = tch::no_grad_guard();
        drop(f(x));
    }
}

fn bench_device(c: &mut Criterion, device: Device, group_name: &str) {
    let vs = nn::VarStore::new(device);
    let exact = floor::paper_pipeline(&vs, false).expect("exact");
    let fast = floor::paper_pipeline(&vs, true).expect("fast");
    let mut group = c.benchmark_group(group_name);
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    let runs: [(&str, &Pass<'_>); 3] = [
        ("exact", &|x| exact.f_forward(x).expect("forward")),
        ("fast", &|x| fast.f_forward(x).expect("forward")),
        ("floor", &floor::floor),
    ];
    for (id, shape) in SHAPES {
        let x = Tensor::rand(shape, (Kind::Float, device));
        for backward in [false, true] {
            for (name, f) in runs {
                let pass = if backward {
                    "forward+backward"
                } else {
                    "forward"
                };
                let id = BenchmarkId::new(format!("{name} {pass}"), id);
                group.bench_with_input(id, &x, |b, x| {
                    b.iter_custom(|iters| time_it(device, iters, &|| run(f, x, backward)))
                });
            }
        }
    }
    group.finish();
}

/// Volumes: RandomAffine3D(15, translate 0.1, scale 0.9-1.1) + RandomHorizontalFlip3D +
/// RandomCrop3D (3/4 of each side) + RandomMotionBlur3D(3, 30, 0.5); the flip has p = 0.5.
const VOLUMES: [(&str, [i64; 5]); 2] = [
    ("b8_1x32x64x64", [8, 1, 32, 64, 64]),
    ("b2_1x64x128x128", [2, 1, 64, 128, 128]),
];

fn volume_pipeline(vs: &nn::VarStore, shape: [i64; 5]) -> Sequential {
    let crop = [shape[2] * 3 / 4, shape[3] * 3 / 4, shape[4] * 3 / 4];
    Sequential::new(
        &(vs.root() / format!("vol{}", shape[2])),
        &[
            AugSpec::RandomAffine3D(Affine3DConfig {
                degrees: [(-15.0, 15.0); 3],
                translate: Some((0.1, 0.1, 0.1)),
                scale: Some(Scale3D::Isotropic((0.9, 1.1))),
                p: 1.0,
                ..Default::default()
            }),
            AugSpec::RandomHorizontalFlip3D(FlipConfig::default()),
            AugSpec::RandomCrop3D(RandomCrop3DConfig {
                size: crop,
                ..Default::default()
            }),
            AugSpec::RandomMotionBlur3D(MotionBlur3DConfig {
                kernel_size: MotionKernelSize::Fixed(3),
                angle: [(-30.0, 30.0); 3],
                direction: (-0.5, 0.5),
                p: 1.0,
                ..Default::default()
            }),
        ],
    )
    .expect("valid pipeline")
}

/// Times `f` per call (synchronising CUDA around it).
fn time_it(device: Device, iters: u64, f: &dyn Fn()) -> Duration {
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        if let Device::Cuda(i) = device {
            tch::Cuda::synchronize(i as i64);
        }
        let t = Instant::now();
        f();
        if let Device::Cuda(i) = device {
            tch::Cuda::synchronize(i as i64);
        }
        total += t.elapsed();
    }
    total
}

fn bench_volumes_and_mix(c: &mut Criterion, device: Device, suffix: &str) {
    let vs = nn::VarStore::new(device);
    let mut group = c.benchmark_group(format!("volume_pipeline{suffix}"));
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    for (id, shape) in VOLUMES {
        let seq = volume_pipeline(&vs, shape);
        let x = Tensor::rand(shape, (Kind::Float, device));
        group.bench_with_input(BenchmarkId::from_parameter(id), &x, |b, x| {
            b.iter_custom(|iters| {
                time_it(device, iters, &|| drop(seq.f_forward(x).expect("forward")))
            })
        });
    }
    group.finish();

    // MixUp then CutMix, each with the labels.
    let mixup = RandomMixUp::new(&(vs.root() / "mixup"), MixUpConfig::default()).expect("mixup");
    let cutmix = RandomCutMix::new(
        &(vs.root() / "cutmix"),
        CutMixConfig {
            use_correct_lambda: true,
            ..Default::default()
        },
    )
    .expect("cutmix");
    let mut group = c.benchmark_group(format!("mix{suffix}"));
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    let x = Tensor::rand([64, 3, 224, 224], (Kind::Float, device));
    let y = Tensor::randint(10, [64], (Kind::Int64, device));
    group.bench_function(BenchmarkId::from_parameter("b64_224x224"), |b| {
        b.iter_custom(|iters| {
            time_it(device, iters, &|| {
                let (xm, _) = mixup.f_forward_with_labels(&x, &y).expect("mixup");
                drop(cutmix.f_forward_with_labels(&xm, &y).expect("cutmix"));
            })
        })
    });
    group.finish();
}

fn benches(c: &mut Criterion) {
    tch::manual_seed(0);
    bench_device(c, Device::Cpu, "paper_pipeline");
    bench_volumes_and_mix(c, Device::Cpu, "");
    if tch::Cuda::is_available() {
        bench_device(c, Device::Cuda(0), "paper_pipeline_cuda");
        bench_volumes_and_mix(c, Device::Cuda(0), "_cuda");
    }
}

criterion_group!(paper, benches);
criterion_main!(paper);
