//! Oriented boxes (torchvision's XYWHR, CXCYWHR and XYXYXYXY): conversions and single
//! steps equal to torchvision 0.28 (tests/fixtures/torchvision/oriented.json, from
//! scripts/gen_torchvision_oriented_fixtures.py), unclamped and soft-clamped; chains that go
//! back to the input boxes through their inverse; the visible part; typed errors.

mod common;
use common::annotated as pipeline;
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};
use tch_dda::*;

const FORMATS: [(&str, BoxFormat); 3] = [
    ("XYWHR", BoxFormat::Xywhr),
    ("CXCYWHR", BoxFormat::Cxcywhr),
    ("XYXYXYXY", BoxFormat::Xyxyxyxy),
];

struct Fixture(serde_json::Value);

impl Fixture {
    fn load() -> Fixture {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/torchvision/oriented.json"
        );
        Fixture(serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap())
    }

    fn size(&self) -> (i64, i64) {
        (
            self.0["height"].as_i64().unwrap(),
            self.0["width"].as_i64().unwrap(),
        )
    }

    fn f64(&self, path: &[&str]) -> f64 {
        path.iter()
            .fold(&self.0, |v, k| match k.parse::<usize>() {
                Ok(i) => &v[i],
                Err(_) => &v[*k],
            })
            .as_f64()
            .unwrap()
    }

    /// (1, N, k) float64 boxes at `path`.
    fn boxes(&self, path: &[&str]) -> Tensor {
        let v = path.iter().fold(&self.0, |v, k| &v[*k]);
        let rows = v.as_array().unwrap();
        let k = rows[0].as_array().unwrap().len() as i64;
        let flat: Vec<f64> = rows
            .iter()
            .flat_map(|r| r.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()))
            .collect();
        Tensor::from_slice(&flat).view([1, -1, k])
    }
}

/// The largest difference between boxes (…, k) in `format`, angles compared modulo 360°.
fn box_diff(format: BoxFormat, a: &Tensor, b: &Tensor) -> f64 {
    assert_eq!(a.size(), b.size());
    let d = (a - b).abs();
    let d = if format == BoxFormat::Xyxyxyxy {
        d
    } else {
        let r = (a.select(-1, 4) - b.select(-1, 4)).remainder(360.0);
        let r = r.minimum(&(360.0 - &r)).unsqueeze(-1);
        Tensor::cat(&[d.narrow(-1, 0, 4), r], -1)
    };
    d.max().double_value(&[])
}

/// The same rectangles with p1 at the opposite corner (p3 first).
fn half_turned(format: BoxFormat, boxes: &Tensor) -> Tensor {
    let corners = format.convert(boxes, BoxFormat::Xyxyxyxy);
    let turned = corners.roll([4], [-1]);
    BoxFormat::Xyxyxyxy.convert(&turned, format)
}

/// Which boxes differ, for a failure message.
fn worst(format: BoxFormat, a: &Tensor, b: &Tensor) -> String {
    let n = a.size()[1];
    let mut d: Vec<(i64, f64)> = (0..n)
        .map(|i| (i, box_diff(format, &a.narrow(1, i, 1), &b.narrow(1, i, 1))))
        .collect();
    d.sort_by(|x, y| y.1.total_cmp(&x.1));
    d.into_iter()
        .take(3)
        .map(|(i, d)| {
            format!(
                "box {i}: {:?} vs {:?} ({d:e})",
                Vec::<f64>::try_from(a.get(0).get(i)).unwrap(),
                Vec::<f64>::try_from(b.get(0).get(i)).unwrap()
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[test]
fn conversions_equal_torchvisions() {
    let fx = Fixture::load();
    for (from_name, from) in FORMATS {
        let input = fx.boxes(&["boxes", from_name]);
        for (to_name, to) in FORMATS {
            let theirs = fx.boxes(&["boxes", to_name]);
            let ours = from.convert(&input, to);
            let d = box_diff(to, &ours, &theirs);
            assert!(
                d < 1e-9,
                "{from_name} -> {to_name}: {d:e}; {}",
                worst(to, &ours, &theirs)
            );
        }
    }
    // An oriented box at r = 0 covers the pixels of the Xywh box of the same numbers.
    let xywh = Tensor::from_slice(&[2.0f64, 3., 4., 5.]).view([1, 4]);
    let xywhr = Tensor::from_slice(&[2.0f64, 3., 4., 5., 0.]).view([1, 5]);
    assert_eq!(
        Vec::<f64>::try_from(BoxFormat::Xywhr.to_xyxy(&xywhr).reshape([-1])).unwrap(),
        [2., 3., 5., 7.]
    );
    assert_eq!(
        Vec::<f64>::try_from(
            BoxFormat::Xywh
                .convert(&xywh, BoxFormat::Xywhr)
                .reshape([-1])
        )
        .unwrap(),
        [2., 3., 4., 5., 0.]
    );
}

/// The fixture's steps as the crate's operators with torchvision's params.
fn steps(fx: &Fixture) -> Vec<(&'static str, AugSpec, Params)> {
    let (h, w) = fx.size();
    let gate = || {
        let mut p = Params::new();
        p.insert(
            "0.batch_prob",
            Tensor::ones([1], (Kind::Float, Device::Cpu)),
        );
        p
    };
    let with = |pairs: Vec<(&str, Tensor)>| {
        let mut p = gate();
        for (k, v) in pairs {
            p.insert(format!("0.{k}"), v);
        }
        p
    };
    let flip = FlipConfig {
        p: 1.0,
        ..Default::default()
    };
    let angle = fx.f64(&["angle"]);
    let rotate = AugSpec::RandomRotation(RandomRotationConfig {
        degrees: (-180.0, 180.0),
        p: 1.0,
        ..Default::default()
    });
    let a = |k: &str| fx.f64(&["affine", k]);
    let affine = AugSpec::RandomAffine(RandomAffineConfig {
        degrees: (-180.0, 180.0),
        translate: Some((0.2, 0.2)),
        scale: Some((0.5, 2.0)),
        p: 1.0,
        ..Default::default()
    });
    let centre = Tensor::from_slice(&[(w - 1) as f32 / 2.0, (h - 1) as f32 / 2.0]).view([1, 2]);
    let scale = a("scale") as f32;
    let affine_params = with(vec![
        (
            "translations",
            Tensor::from_slice(&[
                fx.f64(&["affine", "translate", "0"]) as f32,
                fx.f64(&["affine", "translate", "1"]) as f32,
            ])
            .view([1, 2]),
        ),
        ("center", centre),
        ("scale", Tensor::from_slice(&[scale, scale]).view([1, 2])),
        ("angle", Tensor::from_slice(&[a("angle") as f32])),
        ("shear_x", Tensor::zeros([1], (Kind::Float, Device::Cpu))),
        ("shear_y", Tensor::zeros([1], (Kind::Float, Device::Cpu))),
    ]);
    let (rh, rw) = (
        fx.f64(&["resize", "0"]) as i64,
        fx.f64(&["resize", "1"]) as i64,
    );
    let resize = AugSpec::Resize(ResizeConfig {
        align_corners: false,
        ..ResizeConfig::new((rh, rw))
    });
    let c = |k: &str| fx.f64(&["crop", k]) as f32;
    let (top, left, ch, cw) = (c("top"), c("left"), c("height"), c("width"));
    let crop = AugSpec::RandomCrop(RandomCropConfig {
        size: (ch as i64, cw as i64),
        ..Default::default()
    });
    let (r, b) = (left + cw - 1.0, top + ch - 1.0);
    let src = Tensor::from_slice(&[left, top, r, top, r, b, left, b]).view([1, 4, 2]);
    vec![
        ("hflip", AugSpec::RandomHorizontalFlip(flip.clone()), gate()),
        ("vflip", AugSpec::RandomVerticalFlip(flip), gate()),
        (
            "rotate",
            rotate,
            with(vec![("degrees", Tensor::from_slice(&[angle as f32]))]),
        ),
        ("affine", affine, affine_params),
        ("resize", resize, gate()),
        ("crop", crop, with(vec![("src", src)])),
    ]
}

/// Each step on the fixture's boxes, unclamped (the default options: torchvision's
/// clamping mode None) and soft-clamped (`clip_boxes`: the smallest box of the same angle
/// around the part inside the output, torchvision's default "soft").
#[test]
fn single_steps_equal_torchvisions() {
    let fx = Fixture::load();
    let (h, w) = fx.size();
    let image = Tensor::rand([1, 3, h, w], (Kind::Float, Device::Cpu));
    let vs = VarStore::new(Device::Cpu);
    for (step, spec, params) in steps(&fx) {
        for (mode, opts) in [
            ("none", AnnotationOptions::default()),
            // Clipped to the output only: torchvision clamps what a step gives (the
            // detection options also leave out what was outside the input image).
            (
                "soft",
                AnnotationOptions {
                    clip_boxes: true,
                    flag_outside: true,
                    ..Default::default()
                },
            ),
        ] {
            // torchvision clamps after the steps that can move a box out of the image, not
            // after a flip (which keeps a box as much inside as it was); the detection
            // options always give the visible part.
            if mode == "soft" && step.ends_with("flip") {
                continue;
            }
            let seq = pipeline(&vs, vec![spec.clone()], opts);
            for (name, format) in FORMATS {
                let input = fx.boxes(&["boxes", name]);
                let batch = Batch::new(image.shallow_clone()).with_boxes(Boxes::new(input, format));
                let out = seq.f_apply_batch(&batch, &params).unwrap();
                let out = out.boxes.unwrap();
                assert_eq!(out.format, format);
                assert_eq!(out.data.kind(), Kind::Double);
                let theirs = fx.boxes(&["steps", step, mode, name]);
                let label = format!("{step} {mode} {name}");
                match &out.valid {
                    Some(v) => {
                        let unclamped = fx.boxes(&["steps", step, "none", name]);
                        let out_size = seq.output_shape_for(&[1, 3, h, w], &params);
                        let size = (out_size[2], out_size[3]);
                        assert_soft_equal(&label, format, &out.data, v, &theirs, &unclamped, size);
                    }
                    None => {
                        let d = box_diff(format, &out.data, &theirs);
                        assert!(
                            d < 1e-4,
                            "{label}: {d:e}; {}",
                            worst(format, &out.data, &theirs)
                        );
                    }
                }
            }
        }
    }
}

/// Whether torchvision's boxes have an area (its soft clamp of a box with nothing inside
/// collapses it).
fn with_area(format: BoxFormat, boxes: &Tensor) -> Tensor {
    let corners = format.convert(boxes, BoxFormat::Xyxyxyxy);
    let sides = BoxFormat::Xyxyxyxy
        .convert(&corners, BoxFormat::Cxcywhr)
        .narrow(-1, 2, 2);
    sides.prod_dim_int(-1, false, Kind::Double).gt(1e-9)
}

/// Whether a corner of each unclamped box lies inside an image of `(height, width)`: the
/// box has a part inside.
fn corner_inside(format: BoxFormat, unclamped: &Tensor, (height, width): (i64, i64)) -> Tensor {
    let c = format.convert(unclamped, BoxFormat::Xyxyxyxy);
    let (x, y) = (c.slice(-1, 0, 8, 2), c.slice(-1, 1, 8, 2));
    x.gt(0.0)
        .logical_and(&x.lt(width as f64))
        .logical_and(&y.gt(0.0))
        .logical_and(&y.lt(height as f64))
        .any_dim(-1, false)
}

/// Soft-clamped boxes equal to torchvision's where both keep them (`kept`: the crate's
/// verdict, something inside): torchvision collapses a box with nothing inside; where the
/// two differ, torchvision's clamp collapsed a box with a corner inside the image (seen
/// with its resize), which the crate keeps; the crate never drops a box torchvision keeps.
/// torchvision may name the opposite corner p1 of a clamped box (the same rectangle, its
/// angle 180° apart): the rectangles are compared there.
fn assert_soft_equal(
    label: &str,
    format: BoxFormat,
    ours: &Tensor,
    kept: &Tensor,
    theirs: &Tensor,
    unclamped: &Tensor,
    size: (i64, i64),
) {
    let some = with_area(format, theirs);
    let differ = kept.logical_xor(&some);
    let explained = differ
        .logical_and(kept)
        .logical_and(&corner_inside(format, unclamped, size));
    assert!(
        differ.equal(&explained),
        "{label}: kept {:?}, torchvision's with an area {:?}",
        Vec::<bool>::try_from(kept.reshape([-1])).unwrap(),
        Vec::<bool>::try_from(some.reshape([-1])).unwrap()
    );
    let both = kept.logical_and(&some).get(0).nonzero().squeeze_dim(-1);
    assert!(both.size()[0] > 0, "{label}: no box to compare");
    let (ours, theirs) = (ours.index_select(1, &both), theirs.index_select(1, &both));
    let per_box = |t: &Tensor| {
        (format.convert(&ours, BoxFormat::Xyxyxyxy) - format.convert(t, BoxFormat::Xyxyxyxy))
            .abs()
            .amax([-1i64].as_slice(), false)
    };
    let same = box_diff(format, &ours, &theirs) < 1e-4;
    let (direct, turned) = (per_box(&theirs), per_box(&half_turned(format, &theirs)));
    let n = kept.size()[1];
    let collapsed = differ.sum(Kind::Int64).int64_value(&[]);
    let swapped = direct
        .ge(1e-4)
        .logical_and(&turned.lt(1e-4))
        .sum(Kind::Int64)
        .int64_value(&[]);
    println!(
        "ORIENTED SOFT CLAMP {label}: {collapsed} of {n} collapsed by torchvision, \
         {swapped} with the opposite corner as p1"
    );
    let d = direct.minimum(&turned).max().double_value(&[]);
    assert!(
        same || d < 1e-4,
        "{label}: {d:e}; {}",
        worst(format, &ours, &theirs)
    );
}

/// `Boxes::f_clamp` on oriented boxes: torchvision's `ClampBoundingBoxes` (soft). A box
/// with nothing inside stays as it was.
#[test]
fn clamping_oriented_boxes_equals_torchvisions() {
    let fx = Fixture::load();
    let size = fx.size();
    for (name, format) in FORMATS {
        let input = fx.boxes(&["boxes", name]);
        let theirs = fx.boxes(&["clamped", name]);
        let ids = Tensor::arange(input.size()[1], (Kind::Int64, Device::Cpu)).view([1, -1]);
        let boxes = Boxes::new(input.shallow_clone(), format).with_class_ids(ids.shallow_clone());
        let ours = boxes.f_clamp(size).unwrap();
        assert_eq!(ours.format, format);
        assert!(ours.class_ids.unwrap().equal(&ids));
        // Something inside: clamped, or a corner inside (a box with three corners inside is
        // its own smallest box around its part inside); a box left as it was without a
        // corner inside has nothing inside.
        let unchanged = (format.convert(&ours.data, BoxFormat::Xyxyxyxy)
            - format.convert(&input, BoxFormat::Xyxyxyxy))
        .abs()
        .amax([-1i64].as_slice(), false)
        .lt(1e-9);
        let kept = unchanged
            .logical_not()
            .logical_or(&corner_inside(format, &input, size));
        let n = kept.sum(Kind::Int64).int64_value(&[]);
        assert!(n > 20 && n < 40, "{name}: {n} boxes with a part inside");
        assert_soft_equal(
            &format!("clamp {name}"),
            format,
            &ours.data,
            &kept,
            &theirs,
            &input,
            size,
        );
    }
}

/// Random chains with a shear, a perspective, a dense warp, a flip and a resize, forward
/// and back: the boxes' corners come back within 1e-4 px, in every format, float32 and
/// float64.
#[test]
fn chains_go_back_to_the_input_boxes() {
    let fx = Fixture::load();
    let (h, w) = fx.size();
    let vs = VarStore::new(Device::Cpu);
    let chain = vec![
        AugSpec::RandomAffine(RandomAffineConfig {
            degrees: (-40.0, 40.0),
            translate: Some((0.1, 0.1)),
            scale: Some((0.8, 1.3)),
            shear: Some((-15.0, 15.0)),
            p: 1.0,
            ..Default::default()
        }),
        AugSpec::RandomPerspective(PerspectiveConfig {
            distortion_scale: 0.3,
            p: 1.0,
            ..Default::default()
        }),
        AugSpec::RandomHorizontalFlip(FlipConfig {
            p: 1.0,
            ..Default::default()
        }),
        AugSpec::RandomElasticTransform(ElasticConfig {
            p: 1.0,
            ..Default::default()
        }),
        AugSpec::Resize(ResizeConfig::new((40, 90))),
    ];
    for opts in [AnnotationOptions::default(), AnnotationOptions::detection()] {
        let seq = pipeline(&vs, chain.clone(), opts);
        for kind in [Kind::Double, Kind::Float] {
            for (name, format) in FORMATS {
                tch::manual_seed(7);
                let image = Tensor::rand([2, 3, h, w], (Kind::Float, Device::Cpu));
                let input = fx.boxes(&["boxes", name]).repeat([2, 1, 1]).to_kind(kind);
                let batch = Batch::new(image.shallow_clone())
                    .with_boxes(Boxes::new(input.shallow_clone(), format));
                let (out, params) = seq.f_forward_batch(&batch).unwrap();
                let moved = box_diff(format, &out.boxes.as_ref().unwrap().data, &input);
                assert!(moved > 1.0, "{name}: the chain left the boxes ({moved})");
                let back = seq.f_inverse_batch(&out, &params, &image.size()).unwrap();
                let back = back.boxes.unwrap();
                assert_eq!(back.data.kind(), kind);
                // In pixels: the corners (an angle's error in degrees is not a distance).
                let corners =
                    |t: &Tensor| format.convert(&t.to_kind(Kind::Double), BoxFormat::Xyxyxyxy);
                let d = box_diff(BoxFormat::Xyxyxyxy, &corners(&back.data), &corners(&input));
                assert!(
                    d < 1e-4,
                    "{name} {kind:?}: {d:e}; {}",
                    worst(
                        format,
                        &back.data.to_kind(Kind::Double),
                        &input.to_kind(Kind::Double)
                    )
                );
            }
        }
    }
}

/// The visible part, worked by hand: a box half out of the image after a flip.
#[test]
fn the_visible_part_of_an_oriented_box() {
    let vs = VarStore::new(Device::Cpu);
    let image = Tensor::rand([1, 3, 50, 70], (Kind::Float, Device::Cpu));
    let mut gate = Params::new();
    gate.insert(
        "0.batch_prob",
        Tensor::ones([1], (Kind::Float, Device::Cpu)),
    );
    let flip = AugSpec::RandomHorizontalFlip(FlipConfig {
        p: 1.0,
        ..Default::default()
    });
    // x in [-10, 10], y in [10, 20]; flipped on W = 70: x in [60, 80], half inside. A
    // second box entirely left of the image ends entirely right of it. A third one, turned
    // by 45° around its centre (35, 25), stays inside.
    let s = 50f64.sqrt();
    let data = Tensor::from_slice(&[
        0.0f64, 15., 20., 10., 0., // half out
        -40., 15., 20., 10., 0., // all out
        35., 25., 10., 10., 45., // inside
    ])
    .view([1, 3, 5]);
    let batch = Batch::new(image).with_boxes(Boxes::new(data, BoxFormat::Cxcywhr));
    let mut opts = AnnotationOptions::detection();
    opts.min_visibility = 0.4;
    let out = pipeline(&vs, vec![flip.clone()], opts)
        .f_apply_batch(&batch, &gate)
        .unwrap()
        .boxes
        .unwrap();
    let got = Vec::<f64>::try_from(out.data.reshape([-1])).unwrap();
    let vis = Vec::<f64>::try_from(out.visibility.unwrap().reshape([-1])).unwrap();
    let valid = Vec::<bool>::try_from(out.valid.unwrap().reshape([-1])).unwrap();
    // Clamped to its visible half: centre (65, 15), 10 by 10.
    let want0 = [65., 15., 10., 10., 0.];
    // The flip mirrors the 45° box into a -45° one about the same centre.
    let want2 = [35., 25., 10., 10., -45.];
    for (g, w) in got[0..5]
        .iter()
        .zip(want0)
        .chain(got[10..15].iter().zip(want2))
    {
        assert!((g - w).abs() < 1e-9, "{got:?}");
    }
    assert!((vis[0] - 0.5).abs() < 1e-9 && vis[1] == 0.0 && (vis[2] - 1.0).abs() < 1e-9);
    assert_eq!(valid, [true, false, true]);
    // The 45° box's corners: its centre plus and minus its half diagonal along the axes.
    let xy8 = BoxFormat::Cxcywhr.convert(&out.data.narrow(1, 2, 1), BoxFormat::Xyxyxyxy);
    let pts = Vec::<f64>::try_from(xy8.reshape([-1])).unwrap();
    for (x, y) in pts.chunks(2).map(|p| (p[0], p[1])) {
        let (dx, dy) = ((x - 35.0).abs(), (y - 25.0).abs());
        assert!(
            (dx < 1e-9 && (dy - s).abs() < 1e-9) || (dy < 1e-9 && (dx - s).abs() < 1e-9),
            "{pts:?}"
        );
    }
}

#[test]
fn oriented_boxes_that_cannot_go_get_typed_errors() {
    let vs = VarStore::new(Device::Cpu);
    let image = Tensor::rand([1, 3, 20, 20], (Kind::Float, Device::Cpu));
    let flip = || {
        AugSpec::RandomHorizontalFlip(FlipConfig {
            p: 1.0,
            ..Default::default()
        })
    };
    let seq = pipeline(&vs, vec![flip()], AnnotationOptions::default());
    let expect = |b: Boxes, seq: &Sequential, words: &[&str]| {
        let data = b.data.copy();
        let err = seq
            .f_forward_batch(&Batch::new(image.shallow_clone()).with_boxes(b.clone()))
            .unwrap_err()
            .to_string();
        for w in words {
            assert!(err.contains(w), "{err} lacks {w}");
        }
        assert!(b.data.allclose(&data, 0.0, 0.0, true), "the input changed");
    };
    let five = |v: &[f32]| Tensor::from_slice(v).view([1, 1, 5]);
    // Four numbers for a five-number format.
    expect(
        Boxes::new(
            Tensor::from_slice(&[1.0f32, 2., 3., 4.]).view([1, 1, 4]),
            BoxFormat::Xywhr,
        ),
        &seq,
        &["(B, N, 5)"],
    );
    expect(
        Boxes::new(five(&[1., 2., -3., 4., 10.]), BoxFormat::Cxcywhr),
        &seq,
        &["w >= 0", "Cxcywhr"],
    );
    expect(
        Boxes::new(five(&[1., f32::NAN, 3., 4., 10.]), BoxFormat::Xywhr),
        &seq,
        &["finite"],
    );
    let kornia = pipeline(&vs, vec![flip()], AnnotationOptions::kornia());
    expect(
        Boxes::new(five(&[1., 2., 3., 4., 10.]), BoxFormat::Xywhr),
        &kornia,
        &["oriented", "BoxMode::Corners"],
    );
    // An inverse given corners that are not an oriented box's outline.
    let b = Boxes {
        corners: Some(Tensor::zeros([1, 1, 6, 2], (Kind::Float, Device::Cpu))),
        ..Boxes::new(five(&[1., 2., 3., 4., 10.]), BoxFormat::Xywhr)
    };
    let mut gate = Params::new();
    gate.insert(
        "0.batch_prob",
        Tensor::ones([1], (Kind::Float, Device::Cpu)),
    );
    let err = seq
        .f_inverse_batch(
            &Batch::new(image.shallow_clone()).with_boxes(b),
            &gate,
            &image.size(),
        )
        .unwrap_err()
        .to_string();
    assert!(err.contains("multiple of 4"), "{err}");
    // Oriented boxes are 2D.
    let vol = pipeline(
        &vs,
        vec![AugSpec::RandomHorizontalFlip3D(FlipConfig {
            p: 1.0,
            ..Default::default()
        })],
        AnnotationOptions::default(),
    );
    let err = vol
        .f_forward_batch(
            &Batch::new(Tensor::rand([1, 1, 4, 8, 8], (Kind::Float, Device::Cpu)))
                .with_boxes(Boxes::new(five(&[1., 2., 3., 4., 10.]), BoxFormat::Xywhr)),
        )
        .unwrap_err()
        .to_string();
    assert!(err.contains("oriented boxes are 2D"), "{err}");
}

/// `Boxes::f_sanitize` on oriented boxes: their own sides and area, all corners inside.
#[test]
fn sanitising_oriented_boxes_reads_their_sides() {
    // 20 by 5 at 30°, inside a 50 by 70 image; the same box moved half out on the left; a
    // square of 10 at 45° inside.
    let data = Tensor::from_slice(&[
        30.0f64, 20., 20., 5., 30., // inside
        0., 20., 20., 5., 30., // half out
        35., 30., 10., 10., 45., // inside
    ])
    .view([3, 5]);
    let boxes = Boxes::new(data, BoxFormat::Cxcywhr);
    let kept = |min_size: f64, min_area: f64| -> Vec<bool> {
        let b = boxes.f_sanitize((50, 70), min_size, min_area).unwrap();
        Vec::try_from(b.valid.unwrap()).unwrap()
    };
    assert_eq!(kept(1.0, 1.0), [true, false, true]);
    // The first box is 5 high and 100 in area; the square 10 by 10.
    assert_eq!(kept(4.9, 1.0), [true, false, true]);
    assert_eq!(kept(5.5, 1.0), [false, false, true]);
    assert_eq!(kept(1.0, 99.5), [true, false, true]);
    assert_eq!(kept(1.0, 100.5), [false, false, false]);
    // Four numbers for an oriented format are refused.
    let err = Boxes::new(
        Tensor::zeros([2, 4], (Kind::Float, Device::Cpu)),
        BoxFormat::Xywhr,
    )
    .f_clamp((50, 70))
    .unwrap_err()
    .to_string();
    assert!(err.contains("(N,5)"), "{err}");
}

/// Drawn as a polygon: a square turned by 45° lights its edges, not the corners of the
/// axis-aligned box around it.
#[test]
fn oriented_boxes_are_drawn_along_their_edges() {
    let images = Tensor::zeros([1, 3, 40, 40], (Kind::Float, Device::Cpu));
    // Centre (20.5, 20.5) continuous = pixel (20, 20); half diagonal 10·√2/2·√2 = 10.
    let side = 10.0 * 2f64.sqrt();
    let boxes = Boxes::new(
        Tensor::from_slice(&[20.5f64, 20.5, side, side, 45.]).view([1, 1, 5]),
        BoxFormat::Cxcywhr,
    );
    let opts = tch_dda::draw::DrawOptions {
        labels: false,
        line_width: 1,
        ..Default::default()
    };
    let out = tch_dda::draw::f_draw_boxes(&images, &boxes, &opts).unwrap();
    let lit = |x: i64, y: i64| {
        Vec::<u8>::try_from(out.get(0).select(2, x).select(1, y))
            .unwrap()
            .iter()
            .any(|&v| v > 0)
    };
    // The four corners (20 ± 10, 20) and (20, 20 ± 10), and the middle of an edge.
    for (x, y) in [(10, 20), (30, 20), (20, 10), (20, 30), (15, 15), (25, 25)] {
        assert!(lit(x, y), "({x}, {y}) is dark");
    }
    // Not the centre, nor the corners of the enclosure.
    for (x, y) in [(20, 20), (10, 10), (30, 30), (10, 30), (30, 10)] {
        assert!(!lit(x, y), "({x}, {y}) is lit");
    }
}

/// A patch grid that crops (`Valid`) moves oriented boxes by its offset: the corner or
/// centre moves, the sides and the angle do not.
#[test]
fn a_cropping_patch_grid_moves_oriented_boxes() {
    let vs = VarStore::new(Device::Cpu);
    let jitter = AugSpec::ColorJiggle(JitterConfig::new(0.2, 0.2, 0.2, 0.1));
    let grid = PatchSequential::new(
        vs.root() / "grid",
        PatchConfig::sequence(vec![jitter], (2, 3)).padding(PatchPadding::Valid),
    )
    .unwrap();
    // 9 x 11 on (2, 3): one column cropped on each side, so x moves by -1.
    let x = Tensor::rand([1, 3, 9, 11], (Kind::Float, Device::Cpu));
    let five = Tensor::from_slice(&[4.0f32, 3., 5., 2., 30.]).view([1, 1, 5]);
    for format in [BoxFormat::Xywhr, BoxFormat::Cxcywhr, BoxFormat::Xyxyxyxy] {
        let data = BoxFormat::Cxcywhr.convert(&five, format);
        let batch =
            Batch::new(x.shallow_clone()).with_boxes(Boxes::new(data.shallow_clone(), format));
        let (out, _) = grid.f_forward_batch(&batch).unwrap();
        let got = out.boxes.unwrap().data;
        let centre = |t: &Tensor| {
            Vec::<f32>::try_from(format.convert(t, BoxFormat::Cxcywhr).reshape([-1])).unwrap()
        };
        let (a, b) = (centre(&got), centre(&data));
        let d: Vec<f32> = a.iter().zip(&b).map(|(p, q)| p - q).collect();
        assert!(
            (d[0] + 1.0).abs() < 1e-5 && d[1..].iter().all(|v| v.abs() < 1e-4),
            "{format:?}: {a:?} from {b:?}"
        );
    }
}
