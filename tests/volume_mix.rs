//! Behaviour of the volumetric augmentations and of MixUp / CutMix beyond Kornia parity:
//! inverses and 4×4 matrices, label semantics, the soft-target loss, a learnable λ under
//! Adam, and the errors that pin bad inputs.

mod common;
use common::{max_abs_diff, serial};
use tch::nn::{OptimizerConfig, VarStore};
use tch::{Device, Kind, Tensor};
use tch_dda::*;

fn volume(shape: &[i64]) -> Tensor {
    tch::manual_seed(42);
    Tensor::rand(shape, (Kind::Float, Device::Cpu))
}

fn labels(b: i64) -> Tensor {
    Tensor::from_slice(&(0..b).map(|i| (i * 7 + 3) % 10).collect::<Vec<i64>>())
}

#[test]
fn flips3d_are_their_own_inverse_and_their_matrices_move_the_corners() {
    let _s = serial();
    let vs = VarStore::new(Device::Cpu);
    let x = volume(&[4, 2, 3, 4, 5]);
    let cfg = FlipConfig {
        p: 1.0,
        ..Default::default()
    };
    let flips: Vec<(Box<dyn Augmentation>, i64, usize)> = vec![
        (
            Box::new(RandomHorizontalFlip3D::new(vs.root(), cfg.clone()).unwrap()),
            4,
            0,
        ),
        (
            Box::new(RandomVerticalFlip3D::new(vs.root(), cfg.clone()).unwrap()),
            3,
            1,
        ),
        (
            Box::new(RandomDepthicalFlip3D::new(vs.root(), cfg).unwrap()),
            2,
            2,
        ),
    ];
    for (flip, dim, axis) in flips {
        let (y, p) = flip.forward_with_params(&x);
        // Voxel i along the axis lands at size - 1 - i.
        let n = x.size()[dim as usize];
        assert!(
            y.narrow(dim, 0, 1).equal(&x.narrow(dim, n - 1, 1)),
            "{}",
            flip.name()
        );
        assert!(flip.inverse(&y, &p, &x.size()).equal(&x), "{}", flip.name());
        let m = flip
            .f_transform_matrix(&x.size(), &p, Kind::Float, Device::Cpu)
            .unwrap();
        assert_eq!(m.size(), [4, 4, 4]);
        let origin = Tensor::from_slice(&[0f32, 0.0, 0.0, 1.0]);
        let moved = m.get(0).mv(&origin);
        assert_eq!(
            moved.double_value(&[axis as i64]),
            (n - 1) as f64,
            "{}",
            flip.name()
        );
    }
}

#[test]
fn rotation3d_and_affine3d_inverses_bring_the_centre_back() {
    let _s = serial();
    let vs = VarStore::new(Device::Cpu);
    // A volume linear in (x, y, z): trilinear interpolation reproduces it exactly, so where
    // both warps stay inside the volume the inverse must give it back to rounding.
    let opts = (Kind::Float, Device::Cpu);
    let z = Tensor::arange(9, opts).view([9, 1, 1]);
    let yy = Tensor::arange(11, opts).view([1, 11, 1]);
    let xx = Tensor::arange(13, opts).view([1, 1, 13]);
    let x = (&xx * 0.05 + &yy * 0.03 + &z * 0.02)
        .view([1, 1, 9, 11, 13])
        .repeat([2, 1, 1, 1, 1]);
    let rot = RandomRotation3D::new(
        vs.root(),
        Rotation3DConfig {
            degrees: [(-30.0, 30.0); 3],
            p: 1.0,
            align_corners: true,
            ..Default::default()
        },
    )
    .unwrap();
    let centre = |t: &Tensor| t.narrow(2, 3, 3).narrow(3, 4, 3).narrow(4, 5, 3);
    tch::manual_seed(3);
    let (y, p) = rot.forward_with_params(&x);
    let back = rot.inverse(&y, &p, &x.size());
    let err = max_abs_diff(&centre(&back), &centre(&x));
    let moved = max_abs_diff(&centre(&y), &centre(&x));
    assert!(
        err < 1e-5 && moved > 0.02,
        "rotation3d inverse {err} (moved {moved})"
    );
    let affine = RandomAffine3D::new(
        vs.root(),
        Affine3DConfig {
            degrees: [(-25.0, 25.0); 3],
            translate: Some((0.1, 0.1, 0.1)),
            scale: Some(Scale3D::Isotropic((1.0, 1.1))),
            shears: Some([(-3.0, 3.0); 6]),
            p: 1.0,
            align_corners: true,
            ..Default::default()
        },
    )
    .unwrap();
    let (y, p) = affine.forward_with_params(&x);
    let back = affine.inverse(&y, &p, &x.size());
    let err = max_abs_diff(&centre(&back), &centre(&x));
    let moved = max_abs_diff(&centre(&y), &centre(&x));
    assert!(
        err < 1e-5 && moved > 0.02,
        "affine3d inverse {err} (moved {moved})"
    );
    // Gated-off samples get the identity matrix.
    let gated = RandomAffine3D::new(
        vs.root(),
        Affine3DConfig {
            degrees: [(-10.0, 10.0); 3],
            p: 0.5,
            ..Default::default()
        },
    )
    .unwrap();
    let x8 = volume(&[8, 1, 3, 4, 5]);
    tch::manual_seed(5);
    let (y, p) = gated.forward_with_params(&x8);
    let m = gated
        .f_transform_matrix(&x8.size(), &p, Kind::Float, Device::Cpu)
        .unwrap();
    let on = Vec::<f32>::try_from(p.get("batch_prob").unwrap()).unwrap();
    assert!(on.contains(&0.0) && on.contains(&1.0));
    for (i, &g) in on.iter().enumerate() {
        let i = i as i64;
        let eye = m.get(i).equal(&Tensor::eye(4, (Kind::Float, Device::Cpu)));
        assert_eq!(eye, g == 0.0, "sample {i}");
        assert_eq!(y.get(i).equal(&x8.get(i)), g == 0.0, "sample {i}");
    }
}

#[test]
fn perspective3d_matrix_maps_start_corners_onto_end_corners() {
    let _s = serial();
    let vs = VarStore::new(Device::Cpu);
    let persp = RandomPerspective3D::new(
        vs.root(),
        Perspective3DConfig {
            p: 1.0,
            ..Default::default()
        },
    )
    .unwrap();
    let x = volume(&[3, 1, 4, 5, 6]);
    let (_, p) = persp.forward_with_params(&x);
    let m = persp
        .f_transform_matrix(&x.size(), &p, Kind::Double, Device::Cpu)
        .unwrap();
    let start = p.get("start_points").unwrap().to_kind(Kind::Double);
    let h =
        Tensor::cat(&[&start, &start.ones_like().narrow(2, 0, 1)], 2).matmul(&m.transpose(1, 2));
    let mapped = h.narrow(2, 0, 3) / h.narrow(2, 3, 1);
    // Eight corners over-determine a 3D homography (15 degrees of freedom): Kornia solves
    // for corners 0, 1, 2, 5 and 7, which must land exactly.
    let solved = Tensor::from_slice(&[0i64, 1, 2, 5, 7]);
    let end = p.get("end_points").unwrap().index_select(1, &solved);
    let mapped = mapped.index_select(1, &solved);
    let err = max_abs_diff(&mapped, &end);
    assert!(err < 1e-4, "corners off by {err}");
}

#[test]
fn crops3d_take_the_window_their_params_name_and_the_inverse_puts_it_back() {
    let _s = serial();
    let vs = VarStore::new(Device::Cpu);
    let x = volume(&[3, 2, 5, 6, 7]);
    let crop = RandomCrop3D::new(
        vs.root(),
        RandomCrop3DConfig {
            size: [2, 3, 4],
            ..Default::default()
        },
    )
    .unwrap();
    let (y, p) = crop.forward_with_params(&x);
    assert_eq!(y.size(), [3, 2, 2, 3, 4]);
    let src = Vec::<f32>::try_from(p.get("src").unwrap().select(1, 0).reshape([-1])).unwrap();
    let back = crop.inverse(&y, &p, &x.size());
    for b in 0..3 {
        let (x0, y0, z0) = (
            src[b * 3] as i64,
            src[b * 3 + 1] as i64,
            src[b * 3 + 2] as i64,
        );
        let window = x
            .get(b as i64)
            .narrow(1, z0, 2)
            .narrow(2, y0, 3)
            .narrow(3, x0, 4);
        let err = max_abs_diff(&y.get(b as i64), &window);
        assert!(
            err < 1e-6,
            "sample {b}: crop differs from its window by {err}"
        );
        let placed = back
            .get(b as i64)
            .narrow(1, z0, 2)
            .narrow(2, y0, 3)
            .narrow(3, x0, 4);
        assert!(max_abs_diff(&placed, &window) < 1e-6);
        // Outside the window the inverse has nothing to put: zeros.
        let total = back.get(b as i64).abs().sum(Kind::Double).double_value(&[]);
        let inside = window.abs().sum(Kind::Double).double_value(&[]);
        assert!(
            (total - inside).abs() < 1e-4,
            "sample {b}: values outside the window"
        );
    }
    let centre = CenterCrop3D::new(
        vs.root(),
        CenterCrop3DConfig {
            size: [3, 4, 5],
            ..Default::default()
        },
    )
    .unwrap();
    let y = centre.f_forward(&x.get(0)).unwrap();
    assert_eq!(y.size(), [2, 3, 4, 5], "(C,D,H,W) in, (C,D,H,W) out");
    let window = x.get(0).narrow(1, 1, 3).narrow(2, 1, 4).narrow(3, 1, 5);
    assert!(max_abs_diff(&y, &window) < 1e-6);
}

#[test]
fn mixup_blends_with_the_permutation_its_labels_name() {
    let _s = serial();
    let vs = VarStore::new(Device::Cpu);
    let mixup = RandomMixUp::new(vs.root(), MixUpConfig::default()).unwrap();
    let x = volume(&[6, 3, 4, 5]);
    let y = labels(6);
    tch::manual_seed(8);
    let (out, mixed, p) = mixup.f_forward_with_labels_and_params(&x, &y).unwrap();
    assert_eq!(mixed.size(), [6, 3]);
    assert_eq!(mixed.kind(), Kind::Float);
    let pairs = Vec::<i64>::try_from(p.get("mixup_pairs").unwrap()).unwrap();
    let lam = Vec::<f32>::try_from(mixed.select(1, 2)).unwrap();
    let ids = Vec::<i64>::try_from(&y).unwrap();
    for i in 0..6usize {
        let row = Vec::<f32>::try_from(mixed.get(i as i64)).unwrap();
        assert_eq!(row[0] as i64, ids[i]);
        assert_eq!(
            row[1] as i64, ids[pairs[i] as usize],
            "row {i}: second label"
        );
        let expected = x.get(i as i64) * (1.0 - lam[i] as f64) + x.get(pairs[i]) * lam[i] as f64;
        assert!(
            max_abs_diff(&out.get(i as i64), &expected) < 1e-6,
            "sample {i}"
        );
    }
    let mut sorted = pairs.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        (0..6).collect::<Vec<_>>(),
        "pairs are a permutation"
    );
    // A gated-off batch keeps its images and gets [y, y, 0].
    let off = RandomMixUp::new(
        vs.root(),
        MixUpConfig {
            p: 0.0,
            ..Default::default()
        },
    )
    .unwrap();
    let (out, mixed) = off.forward_with_labels(&x, &y);
    assert!(out.equal(&x));
    let yf = y.to_kind(Kind::Float);
    assert!(mixed.select(1, 0).equal(&yf) && mixed.select(1, 1).equal(&yf));
    assert_eq!(
        mixed.select(1, 2).abs().sum(Kind::Float).double_value(&[]),
        0.0
    );
}

#[test]
fn cutmix_pastes_the_boxes_its_params_name_and_lambda_is_their_area() {
    let _s = serial();
    let vs = VarStore::new(Device::Cpu);
    let x = volume(&[5, 2, 8, 9]);
    let y = labels(5);
    for correct in [false, true] {
        let cutmix = RandomCutMix::new(
            vs.root(),
            CutMixConfig {
                use_correct_lambda: correct,
                ..Default::default()
            },
        )
        .unwrap();
        tch::manual_seed(12);
        let (out, mixed, p) = cutmix.f_forward_with_labels_and_params(&x, &y).unwrap();
        assert_eq!(mixed.size(), [1, 5, 3]);
        let pairs = Vec::<i64>::try_from(p.get("mix_pairs").unwrap().get(0)).unwrap();
        let boxes = Vec::<f32>::try_from(p.get("crop_src").unwrap().reshape([-1])).unwrap();
        let mut any_box = false;
        for i in 0..5usize {
            let b = &boxes[i * 8..i * 8 + 8];
            let (x0, y0, x1, y1) = (b[0] as i64, b[1] as i64, b[4] as i64, b[5] as i64);
            let (w, h) = ((x1 - x0 + 1).max(0), (y1 - y0 + 1).max(0));
            let area = (w * h) as f64 / 72.0;
            let lam = mixed.get(0).get(i as i64).double_value(&[2]);
            let want = if correct { 1.0 - area } else { area };
            assert!(
                (lam - want).abs() < 1e-6,
                "sample {i}: lambda {lam}, area {area}"
            );
            if w > 0 && h > 0 {
                any_box = true;
                let got = out.get(i as i64).narrow(1, y0, h).narrow(2, x0, w);
                let src = x.get(pairs[i]).narrow(1, y0, h).narrow(2, x0, w);
                assert!(
                    got.equal(&src),
                    "sample {i}: box not pasted from its partner"
                );
            }
            // Pixels outside the box are the sample's own.
            let changed = out
                .get(i as i64)
                .ne_tensor(&x.get(i as i64))
                .any_dim(0, false);
            let n_changed = changed.sum(Kind::Int64).int64_value(&[]);
            assert!(
                n_changed <= w * h,
                "sample {i}: {n_changed} pixels changed outside the box"
            );
        }
        assert!(any_box, "seed drew no box at all");
        assert_eq!(
            cutmix.lambda_weight(),
            if correct {
                LambdaWeight::Original
            } else {
                LambdaWeight::Permuted
            }
        );
    }
}

/// Per-sample cross-entropy from `nll_loss` on `log_softmax`, the reference for the loss.
fn ce(logits: &Tensor, ids: &Tensor) -> Tensor {
    logits.log_softmax(-1, Kind::Double).nll_loss_nd::<Tensor>(
        &ids.to_kind(Kind::Int64),
        None,
        tch::Reduction::None,
        -100,
    )
}

#[test]
fn soft_target_cross_entropy_equals_the_two_label_mixup_loss_and_both_cutmix_conventions_agree() {
    let _s = serial();
    let vs = VarStore::new(Device::Cpu);
    tch::manual_seed(30);
    let logits = Tensor::randn([6, 10], (Kind::Double, Device::Cpu));
    let x = volume(&[6, 3, 6, 7]).to_kind(Kind::Double);
    let y = labels(6);
    let mixup = RandomMixUp::new(vs.root(), MixUpConfig::default()).unwrap();
    let (_, mixed) = mixup.forward_with_labels(&x, &y);
    let loss = mixup.f_cross_entropy(&logits, &mixed).unwrap();
    let lam = mixed.select(1, 2);
    let keep: Tensor = 1.0 - &lam;
    let reference = (keep * ce(&logits, &mixed.select(1, 0))
        + &lam * ce(&logits, &mixed.select(1, 1)))
    .mean(Kind::Double);
    let d = (loss.double_value(&[]) - reference.double_value(&[])).abs();
    assert!(
        d < 1e-12,
        "MixUp loss differs from Kornia's documented loss by {d}"
    );
    // The targets are distributions.
    let t = soft_targets(&mixed, 10, LambdaWeight::Permuted).unwrap();
    assert!(
        max_abs_diff(
            &t.sum_dim_intlist([1i64].as_slice(), false, Kind::Double),
            &Tensor::ones([6], (Kind::Double, Device::Cpu))
        ) < 1e-12
    );

    // The same boxes under both CutMix conventions: different λ columns, the same loss.
    let make = |correct| {
        RandomCutMix::new(
            vs.root(),
            CutMixConfig {
                num_mix: 2,
                use_correct_lambda: correct,
                ..Default::default()
            },
        )
        .unwrap()
    };
    let (old, new) = (make(false), make(true));
    tch::manual_seed(31);
    let (_, _, p) = old.f_forward_with_labels_and_params(&x, &y).unwrap();
    let (_, l_old) = old.f_apply_with_labels(&x, &y, &p).unwrap();
    let (_, l_new) = new.f_apply_with_labels(&x, &y, &p).unwrap();
    assert!(!l_old.equal(&l_new));
    let a = old
        .f_cross_entropy(&logits, &l_old)
        .unwrap()
        .double_value(&[]);
    let b = new
        .f_cross_entropy(&logits, &l_new)
        .unwrap()
        .double_value(&[]);
    assert!((a - b).abs() < 1e-12, "{a} vs {b}");
}

#[test]
fn adam_learns_the_mixup_lambda_range_through_images_and_labels() {
    let _s = serial();
    let vs = VarStore::new(Device::Cpu);
    let mixup = RandomMixUp::new(
        &(vs.root() / "mixup"),
        MixUpConfig {
            lambda_val: (0.3, 0.7),
            learnable: Learnable::All,
            ..Default::default()
        },
    )
    .unwrap();
    let mut opt = tch::nn::Adam::default().build(&vs, 0.05).unwrap();
    let x = volume(&[8, 3, 4, 4]);
    let y = labels(8);
    let before = mixup.lambda_val().values();
    for step in 0..30 {
        tch::manual_seed(step);
        let (xm, mixed) = mixup.forward_with_labels(&x, &y);
        // A loss that wants less mixing: the images close to the originals.
        let loss = (&xm - &x).square().mean(Kind::Float) + mixed.select(1, 2).mean(Kind::Float);
        opt.backward_step(&loss);
    }
    let after = mixup.lambda_val().values();
    assert!(
        after.0 < before.0 - 0.1 && after.1 < before.1 - 0.1,
        "{before:?} -> {after:?}"
    );
}

#[test]
fn bad_inputs_get_messages_that_name_what_was_given() {
    let vs = VarStore::new(Device::Cpu);
    let affine = RandomAffine3D::new(vs.root(), Affine3DConfig::default()).unwrap();
    // A 2D image is not a volume; a 4-D tensor is read as one unbatched volume (C,D,H,W).
    let image = Tensor::zeros([3, 8, 8], (Kind::Float, Device::Cpu));
    assert_eq!(
        affine.f_forward(&image).unwrap_err().to_string(),
        "RandomAffine3D: expected an input of rank 4 (C,D,H,W) or 5 (B,C,D,H,W), got shape [3, 8, 8]"
    );
    let six = Tensor::zeros([1, 2, 3, 4, 5, 6], (Kind::Float, Device::Cpu));
    assert_eq!(
        RandomEqualize3D::new(vs.root(), Equalize3DConfig::default())
            .unwrap()
            .f_forward(&six)
            .unwrap_err()
            .to_string(),
        "RandomEqualize3D: expected an input of rank 4 (C,D,H,W) or 5 (B,C,D,H,W), got shape [1, 2, 3, 4, 5, 6]"
    );
    let vol = Tensor::zeros([2, 1, 3, 4, 5], (Kind::Float, Device::Cpu));
    let mixup = RandomMixUp::new(vs.root(), MixUpConfig::default()).unwrap();
    assert_eq!(
        mixup.f_forward(&vol).unwrap_err().to_string(),
        "RandomMixUp: expected an input of rank 3 (C,H,W) or 4 (B,C,H,W), got shape [2, 1, 3, 4, 5]"
    );
    let x = Tensor::zeros([4, 3, 5, 5], (Kind::Float, Device::Cpu));
    assert_eq!(
        mixup
            .f_forward_with_labels(&x, &labels(3))
            .unwrap_err()
            .to_string(),
        "RandomMixUp: labels have shape [3]; expected (4,), one class id per sample"
    );
    let cutmix = RandomCutMix::new(vs.root(), CutMixConfig::default()).unwrap();
    assert_eq!(
        cutmix
            .f_forward_with_labels(&x, &labels(4).to_kind(Kind::Float))
            .unwrap_err()
            .to_string(),
        "RandomCutMix: labels have kind Float; expected integer class ids (int64, int32, ...)"
    );
    assert_eq!(
        cutmix
            .f_forward_with_labels(&x, &labels(4).view([2, 2]))
            .unwrap_err()
            .to_string(),
        "RandomCutMix: labels have shape [2, 2]; expected (4,), one class id per sample"
    );
    assert_eq!(
        mix_cross_entropy(
            &Tensor::zeros([4, 10], (Kind::Float, Device::Cpu)),
            &Tensor::zeros([4, 2], (Kind::Float, Device::Cpu)),
            LambdaWeight::Permuted
        )
        .unwrap_err()
        .to_string(),
        "soft_targets: labels have shape [4, 2] and kind Float; expected mixed labels: (B, 3) or (num_mix, B, 3) float rows [y, y_perm, lambda]"
    );
    assert_eq!(
        mix_cross_entropy(
            &Tensor::zeros([3, 10], (Kind::Float, Device::Cpu)),
            &Tensor::zeros([4, 3], (Kind::Float, Device::Cpu)),
            LambdaWeight::Permuted
        )
        .unwrap_err()
        .to_string(),
        "mix_cross_entropy: labels of shape [4, 3] do not fit logits of shape [3, 10]; expected (B, K) logits with the labels' B"
    );
    let crop = CenterCrop3D::new(
        vs.root(),
        CenterCrop3DConfig {
            size: [4, 4, 4],
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(
        crop.f_forward(&vol).unwrap_err().to_string(),
        "CenterCrop3D: crop size [4, 4, 4] does not fit the input of spatial size [3, 4, 5]; at most the input size"
    );
    assert_eq!(
        RandomRotation3D::new(
            vs.root(),
            Rotation3DConfig {
                resample: Resample::Bicubic,
                ..Default::default()
            }
        )
        .unwrap_err()
        .to_string(),
        "RandomRotation3D: resample = bicubic is invalid; allowed: bilinear or nearest (grid_sample has no bicubic mode for volumes)"
    );
    assert_eq!(
        Sequential::new(
            vs.root(),
            &[
                AugSpec::RandomHorizontalFlip(FlipConfig::default()),
                AugSpec::RandomHorizontalFlip3D(FlipConfig::default()),
            ]
        )
        .unwrap_err()
        .to_string(),
        "Sequential: steps = RandomHorizontalFlip3D (3D) after RandomHorizontalFlip (2D) is invalid; allowed: steps that all take images (2D) or all take volumes (3D)"
    );
    assert_eq!(
        RandomCutMix::new(
            vs.root(),
            CutMixConfig {
                cut_size: (1.0, 1.0),
                ..Default::default()
            }
        )
        .unwrap_err()
        .to_string(),
        "RandomCutMix: cut_size = (1.0, 1.0) is invalid; allowed: a minimum below 1 (at 1 the box is empty)"
    );
}

#[test]
fn volume_pipelines_round_trip_through_json_and_the_varstore() {
    let _s = serial();
    let specs = [
        AugSpec::RandomAffine3D(Affine3DConfig {
            degrees: [(-20.0, 20.0); 3],
            translate: Some((0.1, 0.1, 0.1)),
            scale: Some(Scale3D::PerAxis([(0.9, 1.1), (0.8, 1.0), (1.0, 1.2)])),
            shears: Some([(-4.0, 4.0); 6]),
            p: 1.0,
            learnable: Learnable::All,
            ..Default::default()
        }),
        AugSpec::RandomMotionBlur3D(MotionBlur3DConfig {
            kernel_size: MotionKernelSize::Range(3, 5),
            learnable: Learnable::All,
            ..Default::default()
        }),
        AugSpec::RandomCrop3D(RandomCrop3DConfig {
            size: [3, 4, 5],
            padding: Some([1, 1, 0, 0, 2, 2]),
            padding_mode: CropPadding::Replicate,
            ..Default::default()
        }),
    ];
    let vs = VarStore::new(Device::Cpu);
    let seq = Sequential::new(&(vs.root() / "aug"), &specs).unwrap();
    assert_eq!(seq.spatial_dims(), 3);
    // Move a learnable range so the saved state is not the config's.
    tch::no_grad(|| {
        let v = vs.variables();
        let _ = v["aug.0.yaw_hi"].shallow_clone().fill_(35.0);
    });
    let dir = std::env::temp_dir().join(format!("tch-dda-vol-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("aug3d.safetensors");
    vs.save(&file).unwrap();
    let json = seq.to_json().unwrap();

    let mut vs2 = VarStore::new(Device::Cpu);
    let again = Sequential::from_json(&(vs2.root() / "aug"), &json).unwrap();
    vs2.load(&file).unwrap();
    assert_eq!(again.to_json().unwrap(), json);
    let x = volume(&[3, 2, 4, 6, 7]);
    tch::manual_seed(17);
    let a = seq.f_forward(&x).unwrap();
    tch::manual_seed(17);
    let b = again.f_forward(&x).unwrap();
    assert!(a.equal(&b), "rebuilt pipeline differs");
    assert_eq!(a.size(), [3, 2, 3, 4, 5]);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn slice_and_resample_crops_agree_even_for_windows_past_the_border() {
    let _s = serial();
    let vs = VarStore::new(Device::Cpu);
    let x = volume(&[2, 2, 4, 5, 6]);
    let make = |mode| {
        RandomCrop3D::new(
            vs.root(),
            RandomCrop3DConfig {
                size: [3, 3, 4],
                cropping_mode: mode,
                ..Default::default()
            },
        )
        .unwrap()
    };
    let (slice, warp) = (make(CroppingMode::Slice), make(CroppingMode::Resample));
    tch::manual_seed(4);
    let (_, mut p) = slice.forward_with_params(&x);
    // Replayed params that put the windows partly outside the volume (as a user could).
    let shift = Tensor::from_slice(&[3f32, -1.0, 2.0, -2.0, 2.0, -1.0]).view([2, 1, 3]);
    p.insert("src", p.get("src").unwrap() + shift);
    let a = slice.apply(&x, &p);
    let b = warp.apply(&x, &p);
    assert!(
        max_abs_diff(&a, &b) < 1e-6,
        "slice and warp differ by {}",
        max_abs_diff(&a, &b)
    );
    assert!(
        a.eq(0.0).any().int64_value(&[]) == 1,
        "no voxel fell outside"
    );
}

#[test]
fn equalize3d_has_zero_gradient_and_straight_through_passes_it() {
    let _s = serial();
    let vs = VarStore::new(Device::Cpu);
    // Skewed towards 0, so that equalization moves it; over 255 voxels per channel, so that
    // PIL's step is not 0 (which leaves a channel unchanged).
    let x = volume(&[2, 1, 8, 10, 10]).square();
    for st in [false, true] {
        let eq = RandomEqualize3D::new(
            vs.root(),
            Equalize3DConfig {
                p: 1.0,
                straight_through: st,
                ..Default::default()
            },
        )
        .unwrap();
        let plain = eq.f_forward(&x).unwrap();
        let xg = x.copy().set_requires_grad(true);
        let y = eq.f_forward(&xg).unwrap();
        // The forward output is the same with or without the estimator, and not the input.
        assert!(y.detach().equal(&plain));
        assert!(max_abs_diff(&y, &x) > 0.01);
        let g = Tensor::rand(y.size(), (Kind::Float, Device::Cpu));
        (&y * &g).sum(Kind::Float).backward();
        let expected = if st {
            g.shallow_clone()
        } else {
            g.zeros_like()
        };
        assert!(xg.grad().equal(&expected), "straight_through = {st}");
    }
}
