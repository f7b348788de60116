//! Geometry as a value: `Transform` algebra, what each step reports (matrices for resize,
//! pad and crops included, dense fields for elastic, fisheye and thin-plate spline), the
//! composition of a pipeline, and the one N-d warp and crop path.
//!
//! Where a matrix is checked against the image, the image is a coordinate ramp: channel 0
//! holds each pixel's x, channel 1 its y (volumes: channel 2 its z). A linear interpolation
//! reproduces a linear function exactly, so after a warp every output pixel p well inside
//! the image holds the source coordinate it sampled, which must be `M⁻¹ p`.

mod common;
use common::max_abs_diff;
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};
use tch_dda::*;

fn mat(v: &[f64]) -> Tensor {
    Tensor::from_slice(v).view([1, 3, 3])
}

/// (B,2,H,W) float64: x and y of every pixel.
fn ramp(b: i64, h: i64, w: i64) -> Tensor {
    common::coordinate_ramp(b, 2, h, w)
}

/// (B,3,D,H,W) float64: x, y and z of every voxel.
fn ramp3d(b: i64, d: i64, h: i64, w: i64) -> Tensor {
    let opts = (Kind::Double, Device::Cpu);
    let s = [b, 1, d, h, w];
    let xs = Tensor::arange(w, opts)
        .view([1, 1, 1, 1, w])
        .expand(s, false);
    let ys = Tensor::arange(h, opts)
        .view([1, 1, 1, h, 1])
        .expand(s, false);
    let zs = Tensor::arange(d, opts)
        .view([1, 1, d, 1, 1])
        .expand(s, false);
    Tensor::cat(&[xs, ys, zs], 1)
}

/// Output pixel coordinates (B, H·W, 2) of a (B,C,H,W) output.
fn grid_points(b: i64, h: i64, w: i64) -> Tensor {
    ramp(b, h, w).permute([0, 2, 3, 1]).reshape([b, h * w, 2])
}

/// The largest |M⁻¹ p - ramp(p)| over output pixels whose source lies at least `margin`
/// pixels inside the input of size (h, w).
fn ramp_error(out: &Tensor, t: &Transform, (h, w): (i64, i64), margin: f64) -> f64 {
    let s = out.size();
    let (b, ho, wo) = (s[0], s[2], s[3]);
    let src = t.inverse().map_points(&grid_points(b, ho, wo));
    let got = out
        .narrow(1, 0, 2)
        .permute([0, 2, 3, 1])
        .reshape([b, ho * wo, 2]);
    let inside = src
        .select(-1, 0)
        .ge(margin)
        .logical_and(&src.select(-1, 0).le(w as f64 - 1.0 - margin))
        .logical_and(&src.select(-1, 1).ge(margin))
        .logical_and(&src.select(-1, 1).le(h as f64 - 1.0 - margin));
    assert!(
        inside.sum(Kind::Int64).int64_value(&[]) > 0,
        "no output pixel samples the interior"
    );
    let diff = (src - got).abs().amax([-1i64].as_slice(), false);
    diff.where_scalarother(&inside, 0.0).max().double_value(&[])
}

#[test]
fn transforms_compose_invert_and_map_points() {
    let shift = Transform::translation(&Tensor::from_slice(&[2.0f64, -1.0]).view([1, 2]));
    let scale = Transform::new(
        mat(&[2., 0., 0., 0., 3., 0., 0., 0., 1.]),
        TransformClass::Affine,
    );
    let both = shift.then(&scale);
    assert_eq!(both.class(), TransformClass::Affine);
    // (1, 1) + (2, -1) = (3, 0), scaled by (2, 3): (6, 0).
    let p = Tensor::from_slice(&[1.0f64, 1.0, -2.0, 4.0]).view([1, 2, 2]);
    let q = both.map_points(&p);
    assert_eq!(
        Vec::<f64>::try_from(q.view([-1])).unwrap(),
        [6.0, 0.0, 0.0, 9.0]
    );
    assert!(max_abs_diff(&both.inverse().map_points(&q), &p) < 1e-12);
    // The translation's inverse is exact.
    let back = shift.inverse();
    assert_eq!(back.class(), TransformClass::Translation);
    assert!(shift
        .then(&back)
        .matrix()
        .equal(&Tensor::eye(3, (Kind::Double, Device::Cpu)).unsqueeze(0)));
    // A homography divides by w: [[1,0,0],[0,1,0],[1,0,1]] maps (1, 2) to (1/2, 1).
    let h = Transform::new(
        mat(&[1., 0., 0., 0., 1., 0., 1., 0., 1.]),
        TransformClass::Projective,
    );
    let hp = h.map_points(&Tensor::from_slice(&[1.0f64, 2.0]).view([1, 1, 2]));
    assert_eq!(Vec::<f64>::try_from(hp.view([-1])).unwrap(), [0.5, 1.0]);
    // Boxes: the enclosure of the mapped corners; a 90° turn about the origin
    // (x, y) -> (-y, x) maps [1, 2, 3, 5] to [-5, 1, -2, 3].
    let turn = Transform::new(
        mat(&[0., -1., 0., 1., 0., 0., 0., 0., 1.]),
        TransformClass::Affine,
    );
    let b = turn
        .f_map_boxes(&Tensor::from_slice(&[1.0f64, 2., 3., 5.]).view([1, 1, 4]))
        .unwrap();
    assert_eq!(
        Vec::<f64>::try_from(b.view([-1])).unwrap(),
        [-5.0, 1.0, -2.0, 3.0]
    );
    // The gate: identity where batch_prob is 0.
    let two = Transform::new(scale.matrix().repeat([2, 1, 1]), TransformClass::Affine);
    let gated = two.gated(&Tensor::from_slice(&[1.0f32, 0.0]));
    assert!(gated
        .matrix()
        .get(1)
        .equal(&Tensor::eye(3, (Kind::Double, Device::Cpu))));
    assert!(gated.matrix().get(0).equal(&scale.matrix().get(0)));
    // 4×4: inverse by LU.
    let m4 = Tensor::from_slice(&[
        2.0f64, 0.5, 0., 1., 0., 1., 0.3, 2., 0.1, 0., 3., -1., 0., 0., 0., 1.,
    ])
    .view([1, 4, 4]);
    let t4 = Transform::new(m4.shallow_clone(), TransformClass::Affine);
    let prod = t4.then(&t4.inverse()).matrix().shallow_clone();
    assert!(
        max_abs_diff(
            &prod,
            &Tensor::eye(4, (Kind::Double, Device::Cpu)).unsqueeze(0)
        ) < 1e-12
    );
}

#[test]
fn transform_errors_are_typed() {
    let msg = |e: Error| e.to_string();
    assert_eq!(
        msg(Transform::f_new(
            Tensor::zeros([2, 2, 3], (Kind::Float, Device::Cpu)),
            TransformClass::Affine
        )
        .unwrap_err()),
        "transform matrix has shape [2, 2, 3]; expected (B,3,3) or (B,4,4) with B >= 1"
    );
    let singular = Transform::new(
        Tensor::cat(
            &[
                Tensor::eye(3, (Kind::Double, Device::Cpu)).unsqueeze(0),
                mat(&[1., 2., 0., 2., 4., 0., 0., 0., 1.]),
            ],
            0,
        ),
        TransformClass::Affine,
    );
    assert_eq!(
        msg(singular.f_checked_inverse().unwrap_err()),
        "Transform is not invertible: the matrix of sample 1 is singular (or not finite)"
    );
    let t = Transform::identity(2, 2, Kind::Float, Device::Cpu);
    assert_eq!(
        msg(t
            .f_map_points(&Tensor::zeros([2, 5, 3], (Kind::Float, Device::Cpu)))
            .unwrap_err()),
        "points have shape [2, 5, 3]; expected (B, ..., 2)"
    );
    assert_eq!(
        msg(t.f_then(&Transform::identity(3, 3, Kind::Float, Device::Cpu)).unwrap_err()),
        "transforms to compose have shapes [2, 3, 3] and [3, 4, 4]; expected the same dimension and batch sizes that are equal or 1"
    );
}

/// Affine → Resize → RandomCrop: the pipeline's matrix is the product of the three, and it
/// is where the pixels went.
#[test]
fn pipeline_matrix_is_the_product_of_its_steps_and_moves_the_pixels() {
    let _serial = common::serial();
    let vs = VarStore::new(Device::Cpu);
    let affine = AugSpec::RandomAffine(RandomAffineConfig {
        degrees: (-25.0, 25.0),
        translate: Some((0.1, 0.1)),
        scale: Some((0.9, 1.1)),
        shear: Some((-8.0, 8.0)),
        p: 1.0,
        ..Default::default()
    });
    let resize = AugSpec::Resize(ResizeConfig {
        size: ResizeTo::Size(30, 34),
        ..Default::default()
    });
    let crop = AugSpec::RandomCrop(RandomCropConfig {
        size: (20, 22),
        ..Default::default()
    });
    let seq = Sequential::new(&(vs.root() / "seq"), [affine, resize, crop]).unwrap();
    let x = ramp(3, 24, 27);
    tch::manual_seed(5);
    let (y, p) = seq.forward_with_params(&x);
    let m = seq
        .f_transform(&x.size(), &p, Kind::Double, Device::Cpu)
        .unwrap();
    let steps = seq.steps();
    let shapes = [vec![3, 2, 24, 27], vec![3, 2, 24, 27], vec![3, 2, 30, 34]];
    let mut product = Tensor::eye(3, (Kind::Double, Device::Cpu)).unsqueeze(0);
    for (i, s) in steps.iter().enumerate() {
        let mi = s
            .f_transform_matrix(
                &shapes[i],
                &p.sub(&i.to_string()),
                Kind::Double,
                Device::Cpu,
            )
            .unwrap();
        product = mi.matmul(&product);
    }
    assert!(max_abs_diff(m.matrix(), &product) < 1e-9);
    // Resize and crop are no longer skipped: the product differs from the affine alone.
    let affine_only = steps[0]
        .f_transform_matrix(&x.size(), &p.sub("0"), Kind::Double, Device::Cpu)
        .unwrap();
    assert!(max_abs_diff(m.matrix(), &affine_only) > 0.1);
    // The output pixels hold the input coordinates M⁻¹ p (two linear resamplings of a ramp).
    let err = ramp_error(&y, &m, (24, 27), 1.0);
    assert!(err < 1e-6, "pipeline matrix off the pixels by {err}");
}

#[test]
fn resize_pad_and_crop_report_their_matrices() {
    let vs = VarStore::new(Device::Cpu);
    let x = ramp(2, 9, 13);
    let cases: Vec<(AugSpec, f64)> = vec![
        (
            AugSpec::Resize(ResizeConfig {
                size: ResizeTo::Size(14, 20),
                ..Default::default()
            }),
            1e-9,
        ),
        (
            AugSpec::Resize(ResizeConfig {
                size: ResizeTo::Size(7, 25),
                align_corners: false,
                ..Default::default()
            }),
            1e-9,
        ),
        (
            AugSpec::PadTo(PadToConfig {
                size: (12, 15),
                ..Default::default()
            }),
            0.0,
        ),
        (
            AugSpec::CenterCrop(CenterCropConfig {
                size: (5, 6),
                ..Default::default()
            }),
            0.0,
        ),
        (
            AugSpec::RandomResizedCrop(RandomResizedCropConfig {
                size: (11, 12),
                ..Default::default()
            }),
            1e-9,
        ),
    ];
    for (spec, tol) in cases {
        let aug = spec.build(&vs.root()).unwrap();
        let (y, p) = aug.forward_with_params(&x);
        let t = aug
            .f_transform(&x.size(), &p, Kind::Double, Device::Cpu)
            .unwrap();
        // Half-pixel bilinear clamps at the border: check one pixel inside.
        let err = ramp_error(&y, &t, (9, 13), 1.0);
        assert!(err <= tol, "{}: matrix off the pixels by {err}", aug.name());
    }
}

#[test]
fn dense_warps_report_the_field_they_sample() {
    let vs = VarStore::new(Device::Cpu);
    let x = ramp(2, 12, 14);
    let specs = [
        AugSpec::RandomElasticTransform(ElasticConfig {
            kernel_size: (7, 7),
            sigma: (3.0, 3.0),
            alpha: (2.0, 2.0),
            p: 1.0,
            ..Default::default()
        }),
        AugSpec::RandomFisheye(FisheyeConfig {
            p: 1.0,
            ..Default::default()
        }),
        AugSpec::RandomThinPlateSpline(ThinPlateSplineConfig {
            p: 1.0,
            ..Default::default()
        }),
    ];
    for spec in specs {
        let aug = spec.build(&vs.root()).unwrap();
        tch::manual_seed(2);
        let (y, p) = aug.forward_with_params(&x);
        let Geometry::Dense(field) = aug
            .f_geometry(&x.size(), &p, Kind::Double, Device::Cpu)
            .unwrap()
        else {
            panic!("{}: expected a dense field", aug.name());
        };
        assert!(matches!(
            aug.f_transform(&x.size(), &p, Kind::Double, Device::Cpu),
            Err(Error::NotAMatrix { .. })
        ));
        // Where the field samples the interior, the output holds the field's source.
        let src = field.source();
        let got = y.narrow(1, 0, 2).permute([0, 2, 3, 1]);
        let inside = src
            .select(-1, 0)
            .ge(1.0)
            .logical_and(&src.select(-1, 0).le(12.0))
            .logical_and(&src.select(-1, 1).ge(1.0))
            .logical_and(&src.select(-1, 1).le(10.0))
            .unsqueeze(-1);
        let err = (src - &got)
            .abs()
            .where_scalarother(&inside, 0.0)
            .max()
            .double_value(&[]);
        assert!(err < 1e-9, "{}: field off the pixels by {err}", aug.name());
        // A point mapped forward through the field samples itself back.
        let pts = Tensor::from_slice(&[4.0f64, 5.0, 8.5, 6.25, 6.0, 3.0])
            .view([1, 3, 2])
            .repeat([2, 1, 1]);
        let fwd = field.map_points(&pts);
        let back = field.sample_points(&fwd);
        let err = max_abs_diff(&back, &pts);
        assert!(err < 1e-6, "{}: field inverse off by {err}", aug.name());
    }
}

#[test]
fn volume_matrices_compose_and_move_the_voxels() {
    let _serial = common::serial();
    let vs = VarStore::new(Device::Cpu);
    let seq = Sequential::new(
        &(vs.root() / "v"),
        [
            // Kornia's 3D warps normalise voxels with corners aligned whatever the flag, so
            // with `align_corners = false` (its default) the sampler is half a voxel off its
            // own matrix; with `true` the two agree.
            AugSpec::RandomAffine3D(Affine3DConfig {
                degrees: [(-15.0, 15.0); 3],
                scale: Some(Scale3D::Isotropic((0.9, 1.1))),
                align_corners: true,
                p: 1.0,
                ..Default::default()
            }),
            AugSpec::RandomCrop3D(RandomCrop3DConfig {
                size: [6, 7, 8],
                ..Default::default()
            }),
        ],
    )
    .unwrap();
    let x = ramp3d(2, 8, 9, 10);
    tch::manual_seed(9);
    let (y, p) = seq.forward_with_params(&x);
    let t = seq
        .f_transform(&x.size(), &p, Kind::Double, Device::Cpu)
        .unwrap();
    assert_eq!(t.dims(), 3);
    let s = y.size();
    let (b, d, h, w) = (s[0], s[2], s[3], s[4]);
    let out_pts = ramp3d(b, d, h, w)
        .permute([0, 2, 3, 4, 1])
        .reshape([b, d * h * w, 3]);
    let src = t.inverse().map_points(&out_pts);
    let got = y.permute([0, 2, 3, 4, 1]).reshape([b, d * h * w, 3]);
    let lim = [9.0, 8.0, 7.0];
    let mut inside = src.select(-1, 0).ge(1.0);
    for (i, l) in lim.iter().enumerate() {
        let c = src.select(-1, i as i64);
        inside = inside.logical_and(&c.ge(1.0)).logical_and(&c.le(l - 1.0));
    }
    assert!(inside.sum(Kind::Int64).int64_value(&[]) > 0);
    let err = (src - got)
        .abs()
        .amax([-1i64].as_slice(), false)
        .where_scalarother(&inside, 0.0)
        .max()
        .double_value(&[]);
    assert!(err < 1e-6, "3D pipeline matrix off the voxels by {err}");
}

/// One crop path: an oversized crop is the same typed error in 2D and 3D.
#[test]
fn an_oversized_crop_is_the_same_error_in_2d_and_3d() {
    let vs = VarStore::new(Device::Cpu);
    let crop2 = RandomCrop::new(
        vs.root(),
        RandomCropConfig {
            size: (8, 8),
            ..Default::default()
        },
    )
    .unwrap();
    let crop3 = RandomCrop3D::new(
        vs.root(),
        RandomCrop3DConfig {
            size: [2, 8, 8],
            ..Default::default()
        },
    )
    .unwrap();
    let e2 = crop2
        .f_forward(&Tensor::zeros([1, 1, 5, 7], (Kind::Float, Device::Cpu)))
        .unwrap_err();
    let e3 = crop3
        .f_forward(&Tensor::zeros([1, 1, 3, 5, 7], (Kind::Float, Device::Cpu)))
        .unwrap_err();
    assert!(matches!(e2, Error::Size { .. }) && matches!(e3, Error::Size { .. }));
    assert_eq!(
        e2.to_string(),
        "RandomCrop: crop size [8, 8] does not fit the input of spatial size [5, 7]; at most the (padded) input size; set pad_if_needed or padding"
    );
    assert_eq!(
        e3.to_string(),
        "RandomCrop3D: crop size [2, 8, 8] does not fit the input of spatial size [3, 5, 7]; at most the (padded) input size; set pad_if_needed or padding"
    );
}

/// The composed geometry of a pipeline with a dense step is a dense field.
#[test]
fn a_pipeline_with_a_dense_step_composes_into_a_field() {
    let _serial = common::serial();
    let vs = VarStore::new(Device::Cpu);
    let seq = Sequential::new(
        &(vs.root() / "d"),
        [
            AugSpec::RandomHorizontalFlip(FlipConfig {
                p: 1.0,
                ..Default::default()
            }),
            AugSpec::RandomElasticTransform(ElasticConfig {
                kernel_size: (5, 5),
                sigma: (2.0, 2.0),
                alpha: (0.4, 0.4),
                p: 1.0,
                ..Default::default()
            }),
            AugSpec::Resize(ResizeConfig {
                size: ResizeTo::Size(15, 17),
                ..Default::default()
            }),
        ],
    )
    .unwrap();
    let x = ramp(2, 11, 13);
    tch::manual_seed(4);
    let (y, p) = seq.forward_with_params(&x);
    let Geometry::Dense(f) = seq
        .f_geometry(&x.size(), &p, Kind::Double, Device::Cpu)
        .unwrap()
    else {
        panic!("expected a dense field");
    };
    assert_eq!(f.output_size(), (15, 17));
    assert_eq!(f.input_size(), (11, 13));
    // The output samples the field's source (three linear resamplings of a ramp), where
    // every intermediate sample is inside the image (a margin of 3 pixels).
    let src = f.source();
    let got = y.permute([0, 2, 3, 1]);
    let inside = src
        .select(-1, 0)
        .ge(3.0)
        .logical_and(&src.select(-1, 0).le(9.0))
        .logical_and(&src.select(-1, 1).ge(3.0))
        .logical_and(&src.select(-1, 1).le(7.0))
        .unsqueeze(-1);
    assert!(inside.sum(Kind::Int64).int64_value(&[]) > 20);
    let err = (src - &got)
        .abs()
        .where_scalarother(&inside, 0.0)
        .max()
        .double_value(&[]);
    assert!(err < 1e-6, "composed field off the pixels by {err}");
}

/// The inverse of a dense warp warps back through the inverted field: a smooth image comes
/// back (away from the border), and much closer than the warp had moved it.
#[test]
fn dense_warps_invert_images() {
    let _serial = common::serial();
    let vs = VarStore::new(Device::Cpu);
    let opts = (Kind::Float, Device::Cpu);
    let (h, w) = (40, 48);
    let xs = Tensor::arange(w, opts).view([1, 1, 1, w]);
    let ys = Tensor::arange(h, opts).view([1, 1, h, 1]);
    let smooth = ((&xs * 0.3).sin() * (&ys * 0.25).cos() * 0.4 + 0.5).expand([2, 1, h, w], false);
    for spec in [
        AugSpec::RandomElasticTransform(ElasticConfig {
            kernel_size: (9, 9),
            sigma: (4.0, 4.0),
            alpha: (0.4, 0.4),
            p: 1.0,
            ..Default::default()
        }),
        AugSpec::RandomThinPlateSpline(ThinPlateSplineConfig {
            scale: 0.1,
            p: 1.0,
            ..Default::default()
        }),
    ] {
        let aug = spec.build(&vs.root()).unwrap();
        tch::manual_seed(12);
        let (y, p) = aug.forward_with_params(&smooth);
        let back = aug.inverse(&y, &p, &smooth.size());
        let centre = |t: &Tensor| t.narrow(2, 8, h - 16).narrow(3, 8, w - 16);
        let moved = max_abs_diff(&centre(&y), &centre(&smooth));
        let err = max_abs_diff(&centre(&back), &centre(&smooth));
        println!("{}: moved {moved:.3}, back within {err:.3}", aug.name());
        assert!(
            err < 0.05 && err < moved / 3.0,
            "{}: inverse off by {err} (the warp moved {moved})",
            aug.name()
        );
    }
}

/// Every 2D operator that warps by its matrix with bilinear resampling (each in the
/// configuration the fuzz starts from, all samples applied): a coordinate ramp's pixels
/// move as the reported matrix says, to 1e-6 px one pixel inside the input.
#[test]
fn every_matrix_operator_moves_the_pixels_as_its_matrix_says() {
    let _serial = common::serial();
    let vs = VarStore::new(Device::Cpu);
    let (h, w) = (24, 27);
    // Three channels (colour-checking operators need them): x, y, 0.
    let x = Tensor::cat(
        &[
            ramp(3, h, w),
            Tensor::zeros([3, 1, h, w], (Kind::Double, Device::Cpu)),
        ],
        1,
    );
    let mut checked = Vec::new();
    for spec in common::all_specs() {
        // p = 1 where the config has a p.
        let mut json = serde_json::to_value(&spec).unwrap();
        if let Some(serde_json::Value::Object(cfg)) =
            json.as_object_mut().and_then(|m| m.values_mut().next())
        {
            if cfg.contains_key("p") {
                cfg.insert("p".into(), 1.0.into());
            }
        }
        let spec: AugSpec = serde_json::from_value(json).unwrap();
        let Ok(aug) = spec.build(&(vs.root() / checked.len().to_string())) else {
            continue;
        };
        let bilinear = aug
            .sampling()
            .is_some_and(|s| s.resample == Resample::Bilinear);
        if aug.spatial_dims() != 2 || !bilinear {
            continue;
        }
        tch::manual_seed(checked.len() as i64);
        let (y, p) = aug.f_forward_with_params(&x).unwrap();
        let t = aug
            .f_transform(&x.size(), &p, Kind::Double, Device::Cpu)
            .unwrap();
        let err = ramp_error(&y, &t, (h, w), 1.0);
        assert!(err < 1e-6, "{}: matrix off the pixels by {err}", aug.name());
        checked.push(aug.name());
    }
    for name in [
        "RandomAffine",
        "RandomRotation",
        "RandomHorizontalFlip",
        "RandomVerticalFlip",
        "RandomPerspective",
        "RandomResizedCrop",
        "RandomCrop",
        "CenterCrop",
        "Resize",
    ] {
        assert!(checked.contains(&name), "{name} not checked: {checked:?}");
    }
}

/// A resize to a one-pixel side with aligned corners (LongestMaxSize(4) on an 8×3 image
/// gives 4×1) keeps an invertible matrix: that axis maps the first pixel onto the first
/// pixel, so boxes stay finite and the inverse maps them back.
#[test]
fn a_resize_to_one_pixel_keeps_an_invertible_matrix() {
    let vs = tch::nn::VarStore::new(tch::Device::Cpu);
    let aug = LongestMaxSize::new(vs.root(), MaxSizeConfig::new(4)).unwrap();
    let x = tch::Tensor::rand([1, 3, 8, 3], (tch::Kind::Float, tch::Device::Cpu));
    let boxes = Boxes::xyxy(tch::Tensor::from_slice(&[0f32, 1.0, 2.0, 6.0]).view([1, 1, 4]));
    let (out, params) = aug
        .f_forward_batch(&Batch::new(x).with_boxes(boxes))
        .unwrap();
    assert_eq!(out.image.size(), [1, 3, 4, 1]);
    let m = aug
        .f_transform_matrix(&[1, 3, 8, 3], &params, tch::Kind::Double, tch::Device::Cpu)
        .unwrap();
    let det = m.det().double_value(&[0]);
    assert!(det.is_finite() && det != 0.0, "det {det}");
    let b = out.boxes.as_ref().unwrap().data.shallow_clone();
    assert!(bool::try_from(b.isfinite().all()).unwrap(), "{b}");
    let back = aug.f_inverse_batch(&out, &params, &[1, 3, 8, 3]).unwrap();
    let d = (back.boxes.unwrap().data
        - tch::Tensor::from_slice(&[0f32, 1.0, 2.0, 6.0]).view([1, 1, 4]))
    .abs()
    .max()
    .double_value(&[]);
    assert!(d < 1e-5, "round trip off by {d}");
}
