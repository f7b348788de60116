//! The visible region of boxes (`AnnotationOptions::visible_region`, the detection preset):
//! a box that left the frame at some step never comes back, a box a step cut stays tight,
//! keypoints that left the frame stay invalid, and the sanitising options (min_visibility,
//! min_area, min_size, the size convention) decide on it, with class ids in step.
//!
//! Checked against two independent computations on random crop + affine + flip (+
//! perspective) chains: a scalar polygon clipper in float64 (host code, one box at a time,
//! through each step's own matrix and output frame), and a raster of the visible region
//! (output sample points mapped back through every step's inverse, kept where they lie
//! inside every frame and inside the original box).

mod common;
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};
use tch_dda::*;

fn f64s(t: &Tensor) -> Vec<f64> {
    Vec::<f64>::try_from(t.to_kind(Kind::Double).reshape([-1])).unwrap()
}

fn bools(t: &Tensor) -> Vec<bool> {
    Vec::<bool>::try_from(t.to_kind(Kind::Bool).reshape([-1])).unwrap()
}

use common::annotated as pipeline;

#[test]
fn a_box_that_left_the_frame_never_comes_back_and_a_cut_box_stays_tight() {
    let vs = VarStore::new(Device::Cpu);
    // 20×20 -> centre crop 10×10 at offset 5 -> zoom out by 4 about (4.5, 4.5).
    let steps = vec![
        AugSpec::CenterCrop(CenterCropConfig {
            size: (10, 10),
            ..Default::default()
        }),
        AugSpec::RandomAffine(RandomAffineConfig {
            degrees: (0.0, 0.0),
            scale: Some((0.25, 0.25)),
            p: 1.0,
            ..Default::default()
        }),
    ];
    let image = Tensor::rand([1, 3, 20, 20], (Kind::Double, Device::Cpu));
    // A [6,6,9,9] stays whole; B [0,0,4,4] leaves with the crop; C [2,2,9,9] is cut to
    // [0,0,4,4] (16 of its 49 square pixels, corner to corner).
    let boxes =
        Tensor::from_slice(&[6.0, 6., 9., 9., 0., 0., 4., 4., 2., 2., 9., 9.]).view([1, 3, 4]);
    let kps = Tensor::from_slice(&[7.0, 7., 1., 1.]).view([1, 2, 2]);
    let batch = Batch::new(image)
        .with_boxes(
            Boxes::xyxy(boxes).with_class_ids(Tensor::from_slice(&[10i64, 11, 12]).view([1, 3])),
        )
        .with_keypoints(Keypoints::new(kps));
    let run = |opts: AnnotationOptions| {
        pipeline(&vs, steps.clone(), opts)
            .f_forward_batch(&batch)
            .unwrap()
            .0
    };
    let run_on = |b: &Batch| {
        pipeline(&vs, steps.clone(), AnnotationOptions::detection())
            .f_forward_batch(b)
            .unwrap()
            .0
    };
    let zoom = |v: f64| 4.5 + 0.25 * (v - 4.5);

    // Clipped at the end only: B comes back inside the frame, C keeps its cropped part.
    let old = run(AnnotationOptions {
        clip_boxes: true,
        flag_outside: true,
        ..Default::default()
    });
    let ob = old.boxes.unwrap();
    let d = f64s(&ob.data);
    assert_eq!(bools(ob.valid.as_ref().unwrap()), [true, true, true]);
    assert_eq!(&d[4..8], [zoom(-5.), zoom(-5.), zoom(-1.), zoom(-1.)]);
    assert_eq!(&d[8..12], [zoom(-3.), zoom(-3.), zoom(4.), zoom(4.)]);
    // The keypoint at (1, 1) left with the crop and comes back too.
    assert_eq!(
        bools(old.keypoints.unwrap().valid.as_ref().unwrap()),
        [true, true]
    );

    let new = run(AnnotationOptions::detection());
    let nb = new.boxes.unwrap();
    let d = f64s(&nb.data);
    assert_eq!(bools(nb.valid.as_ref().unwrap()), [true, false, true]);
    assert_eq!(&d[0..4], [zoom(1.), zoom(1.), zoom(4.), zoom(4.)]);
    assert_eq!(&d[8..12], [zoom(0.), zoom(0.), zoom(4.), zoom(4.)]);
    let vis = f64s(nb.visibility.as_ref().unwrap());
    assert!((vis[0] - 1.0).abs() < 1e-12 && vis[1] == 0.0, "{vis:?}");
    assert!((vis[2] - 16.0 / 49.0).abs() < 1e-12, "{vis:?}");
    let nk = new.keypoints.unwrap();
    assert_eq!(bools(nk.valid.as_ref().unwrap()), [true, false]);
    // The per-image list leaves the invalid keypoint out: (7, 7) -> (2, 2) -> zoomed.
    assert_eq!(f64s(&nk.to_list()[0]), [zoom(2.), zoom(2.)]);
    // The class ids of the kept boxes, in step.
    assert_eq!(f64s(&nb.class_id_list()[0]), [10.0, 12.0]);
    // An unbatched record gives lists of one image.
    let single = Batch::new(batch.image.get(0))
        .with_boxes(Boxes::xyxy(batch.boxes.as_ref().unwrap().data.get(0)))
        .with_keypoints(Keypoints::new(
            batch.keypoints.as_ref().unwrap().points.get(0),
        ));
    let one = run_on(&single);
    let (ob, ok) = (one.boxes.unwrap(), one.keypoints.unwrap());
    assert_eq!(ob.data.size(), [3, 4]);
    let (bl, kl) = (ob.to_list(), ok.to_list());
    assert_eq!(
        (bl.len(), bl[0].size(), kl.len(), kl[0].size()),
        (1, vec![2, 4], 1, vec![1, 2])
    );
    assert_eq!(f64s(&bl[0]), [&d[0..4], &d[8..12]].concat());

    // Instance masks (one channel per box) lose the channel of a dropped box (C: visible
    // 16/49 < 0.33) with its validity and class id; the others keep their moved pixels.
    let instances = Tensor::zeros([1, 3, 20, 20], (Kind::Int64, Device::Cpu));
    for (k, r) in [(6, 6, 9, 9), (0, 0, 4, 4), (2, 2, 9, 9)]
        .iter()
        .enumerate()
    {
        let _ = instances
            .get(0)
            .get(k as i64)
            .narrow(0, r.1, r.3 - r.1 + 1)
            .narrow(1, r.0, r.2 - r.0 + 1)
            .fill_(1);
    }
    let with_masks = batch.clone().with_masks(instances.shallow_clone());
    let seq = |opts: AnnotationOptions| pipeline(&vs, steps.clone(), opts);
    let opts = AnnotationOptions {
        instance_masks: true,
        min_visibility: 0.33,
        ..AnnotationOptions::detection()
    };
    let sums = |m: &Tensor| f64s(&m.sum_dim_intlist([2i64, 3].as_slice(), false, Kind::Double));
    let (m, p) = seq(opts.clone()).f_forward_batch(&with_masks).unwrap();
    let masks = m.masks.unwrap();
    assert_eq!(
        bools(m.boxes.unwrap().valid.as_ref().unwrap()),
        [true, false, false]
    );
    let got = sums(&masks);
    assert!(got[0] > 0.0 && got[1] == 0.0 && got[2] == 0.0, "{got:?}");
    assert_eq!(masks.kind(), Kind::Int64);
    // Without the option the channels stay as the steps moved them.
    let plain = seq(AnnotationOptions {
        instance_masks: false,
        ..opts.clone()
    })
    .f_apply_batch(&with_masks, &p)
    .unwrap()
    .masks
    .unwrap();
    assert!(plain.get(0).get(0).equal(&masks.get(0).get(0)));
    assert!(sums(&plain)[2] > 0.0, "{:?}", sums(&plain));
    // One channel per box is required.
    let e = seq(opts)
        .f_forward_batch(&batch.clone().with_masks(instances.narrow(1, 0, 2)))
        .unwrap_err();
    assert!(matches!(e, Error::Annotation { what: "mask", .. }), "{e}");

    // The exact corners still travel: the inverse gives the original boxes back.
    let seq = pipeline(&vs, steps.clone(), AnnotationOptions::detection());
    let (out, params) = seq.f_forward_batch(&batch).unwrap();
    let back = seq.f_inverse_batch(&out, &params, &[1, 3, 20, 20]).unwrap();
    let diff = (back.boxes.unwrap().data - &batch.boxes.as_ref().unwrap().data)
        .abs()
        .max();
    assert!(f64s(&diff)[0] < 1e-9);

    // Fused into one warp, the image shows what the crop had cut (the zoom-out samples the
    // input directly), and so do the boxes: one clip, at the end of the run.
    let fused = Sequential::new(
        &(vs.root() / "fused"),
        SequentialConfig {
            annotations: AnnotationOptions::detection(),
            fuse_geometry: true,
            ..SequentialConfig::new(steps.clone())
        },
    )
    .unwrap()
    .f_forward_batch(&batch)
    .unwrap()
    .0;
    let fb = fused.boxes.unwrap();
    assert_eq!(bools(fb.valid.as_ref().unwrap()), [true, true, true]);
    assert_eq!(
        &f64s(&fb.data)[4..8],
        [zoom(-5.), zoom(-5.), zoom(-1.), zoom(-1.)]
    );
    assert_eq!(f64s(fb.visibility.as_ref().unwrap()), [1.0, 1.0, 1.0]);
    assert_eq!(
        bools(fused.keypoints.unwrap().valid.as_ref().unwrap()),
        [true, true]
    );

    // Sanitising on the visible boxes: A is 0.25·3 = 0.75 px wide corner to corner (1.75
    // inclusive), C 0.25·4 = 1 px (2 inclusive).
    let keep = |opts: AnnotationOptions| bools(run(opts).boxes.unwrap().valid.as_ref().unwrap());
    let with = |f: &dyn Fn(&mut AnnotationOptions)| {
        let mut o = AnnotationOptions::detection();
        f(&mut o);
        o
    };
    assert_eq!(
        keep(with(&|o| o.min_visibility = 0.33)),
        [true, false, false]
    );
    assert_eq!(
        keep(with(&|o| o.min_visibility = 0.32)),
        [true, false, true]
    );
    assert_eq!(keep(with(&|o| o.min_size = 1.75)), [true, false, true]);
    assert_eq!(keep(with(&|o| o.min_size = 2.0)), [false, false, true]);
    assert_eq!(keep(with(&|o| o.min_size = 2.01)), [false, false, false]);
    let continuous = |f: &dyn Fn(&mut AnnotationOptions)| {
        with(&|o| {
            o.size = BoxSize::Continuous;
            f(o)
        })
    };
    assert_eq!(
        keep(continuous(&|o| o.min_size = 1.0)),
        [false, false, true]
    );
    assert_eq!(
        keep(continuous(&|o| o.min_area = 1.0)),
        [false, false, true]
    );
    assert_eq!(
        keep(continuous(&|o| o.min_area = 0.5625)),
        [true, false, true]
    );
    assert_eq!(keep(with(&|o| o.min_area = 3.0625)), [true, false, true]);
    assert_eq!(keep(with(&|o| o.min_area = 4.0)), [false, false, true]);
    assert_eq!(keep(with(&|o| o.min_area = 4.5)), [false, false, false]);
}

type Pt = [f64; 2];

/// Sutherland–Hodgman against one half-plane, one polygon at a time.
fn clip_half(poly: &[Pt], axis: usize, bound: f64, above: bool) -> Vec<Pt> {
    let inside = |p: &Pt| {
        if above {
            p[axis] >= bound
        } else {
            p[axis] <= bound
        }
    };
    let mut out = Vec::new();
    for i in 0..poly.len() {
        let (a, b) = (poly[i], poly[(i + 1) % poly.len()]);
        if inside(&a) != inside(&b) {
            let t = (bound - a[axis]) / (b[axis] - a[axis]);
            out.push([a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1])]);
        }
        if inside(&b) {
            out.push(b);
        }
    }
    out
}

fn clip_frame(poly: &[Pt], h: i64, w: i64) -> Vec<Pt> {
    let mut p = poly.to_vec();
    for (axis, bound, above) in [
        (0, 0.0, true),
        (0, (w - 1) as f64, false),
        (1, 0.0, true),
        (1, (h - 1) as f64, false),
    ] {
        if p.is_empty() {
            break;
        }
        p = clip_half(&p, axis, bound, above);
    }
    p
}

fn map(m: &[f64], p: &Pt) -> Pt {
    let z = m[6] * p[0] + m[7] * p[1] + m[8];
    [
        (m[0] * p[0] + m[1] * p[1] + m[2]) / z,
        (m[3] * p[0] + m[4] * p[1] + m[5]) / z,
    ]
}

fn invert(m: &[f64]) -> Vec<f64> {
    let t = Tensor::from_slice(m).view([3, 3]).inverse();
    f64s(&t)
}

fn area(p: &[Pt]) -> f64 {
    let n = p.len();
    (0..n)
        .map(|i| p[i][0] * p[(i + 1) % n][1] - p[(i + 1) % n][0] * p[i][1])
        .sum::<f64>()
        .abs()
        / 2.0
}

/// What the independent computations say about one box.
struct Reference {
    region: Vec<Pt>,
    visibility: f64,
    raster: Option<[f64; 4]>,
}

#[test]
fn random_chains_match_a_scalar_clipper_and_a_raster() {
    let vs = VarStore::new(Device::Cpu);
    let affine = || {
        AugSpec::RandomAffine(RandomAffineConfig {
            degrees: (-25.0, 25.0),
            translate: Some((0.1, 0.1)),
            scale: Some((0.8, 1.2)),
            p: 1.0,
            ..Default::default()
        })
    };
    let rrc = || {
        AugSpec::RandomResizedCrop(RandomResizedCropConfig {
            size: (24, 28),
            scale: (0.25, 1.0),
            ..Default::default()
        })
    };
    let flip = || {
        AugSpec::RandomHorizontalFlip(FlipConfig {
            p: 0.5,
            ..Default::default()
        })
    };
    let chains: Vec<Vec<AugSpec>> = vec![
        vec![rrc(), affine(), flip()],
        vec![
            affine(),
            AugSpec::RandomCrop(RandomCropConfig {
                size: (20, 24),
                ..Default::default()
            }),
            flip(),
        ],
        vec![
            rrc(),
            AugSpec::RandomPerspective(PerspectiveConfig {
                p: 1.0,
                ..PerspectiveConfig::new(0.4)
            }),
            affine(),
        ],
    ];
    let (b, n, h, w) = (4i64, 6i64, 36i64, 40i64);
    let mut seen = 0;
    let mut phantoms_at_the_end_only = 0;
    let mut loose_at_the_end_only = 0.0f64;
    let mut kept = 0;
    let mut gone = 0;
    let mut keypoints_checked = 0;
    // The draws are seeded: no other test's draw lands between.
    let _g = common::serial();
    for (c, steps) in chains.iter().enumerate() {
        for seed in 0..8 {
            tch::manual_seed(1000 * c as i64 + seed);
            let image = Tensor::rand([b, 1, h, w], (Kind::Double, Device::Cpu));
            // Boxes anywhere in and around the frame, of every size.
            let lo = Tensor::rand([b, n, 2], (Kind::Double, Device::Cpu))
                * Tensor::from_slice(&[w as f64 + 8.0, h as f64 + 8.0])
                - 6.0;
            let size = Tensor::rand([b, n, 2], (Kind::Double, Device::Cpu)) * 18.0 + 1.0;
            let boxes = Tensor::cat(&[&lo, &(&lo + &size)], -1);
            let kps = Tensor::rand([b, n, 2], (Kind::Double, Device::Cpu))
                * Tensor::from_slice(&[w as f64, h as f64]);
            let ids = Tensor::arange(b * n, (Kind::Int64, Device::Cpu)).view([b, n]);
            let batch = Batch::new(image)
                .with_boxes(Boxes::xyxy(boxes.shallow_clone()).with_class_ids(ids))
                .with_keypoints(Keypoints::new(kps.shallow_clone()));
            let opts = AnnotationOptions {
                min_visibility: 0.3,
                ..AnnotationOptions::detection()
            };
            let seq = pipeline(&vs, steps.clone(), opts);
            let (out, params) = seq.f_forward_batch(&batch).unwrap();
            // The same draw at the end only (today's clip and flag).
            let end_only = pipeline(
                &vs,
                steps.clone(),
                AnnotationOptions {
                    clip_boxes: true,
                    flag_outside: true,
                    ..Default::default()
                },
            )
            .f_apply_batch(&batch, &params)
            .unwrap();

            // Every step's matrix and frames.
            let mut mats = Vec::new();
            let mut frames = vec![(h, w)];
            let mut shape = vec![b, 1, h, w];
            for (i, step) in seq.steps().iter().enumerate() {
                let p = params.sub(&i.to_string());
                let m = step
                    .f_transform_matrix(&shape, &p, Kind::Double, Device::Cpu)
                    .unwrap();
                mats.push(m);
                shape = step.output_shape_for(&shape, &p);
                frames.push((shape[2], shape[3]));
            }
            let (ho, wo) = *frames.last().unwrap();
            assert_eq!(out.image.size(), [b, 1, ho, wo]);

            let ob = out.boxes.as_ref().unwrap();
            let data = f64s(&ob.data);
            let valid = bools(ob.valid.as_ref().unwrap());
            let vis = f64s(ob.visibility.as_ref().unwrap());
            let old = end_only.boxes.as_ref().unwrap();
            let old_data = f64s(&old.data);
            let old_valid = bools(old.valid.as_ref().unwrap());
            let in_boxes = f64s(&boxes);
            let in_kps = f64s(&kps);
            let kp_valid = bools(out.keypoints.as_ref().unwrap().valid.as_ref().unwrap());
            let mut ids_kept = Vec::new();
            for s in 0..b as usize {
                let m: Vec<Vec<f64>> = mats.iter().map(|t| f64s(&t.get(s as i64))).collect();
                let inv: Vec<Vec<f64>> = m.iter().map(|t| invert(t)).collect();
                for j in 0..n as usize {
                    let k = s * n as usize + j;
                    let r = reference(&in_boxes[4 * k..4 * k + 4], &m, &inv, &frames);
                    seen += 1;
                    let alive = !r.region.is_empty() && area(&r.region) > 0.0;
                    // Keep/drop: alive and visible enough, as the scalar clipper says (away
                    // from the threshold by more than rounding).
                    let expect = alive && r.visibility >= 0.3;
                    if (r.visibility - 0.3).abs() > 1e-9 {
                        assert_eq!(
                            valid[k], expect,
                            "chain {c} seed {seed} box {k}: visibility {} (got {})",
                            r.visibility, vis[k]
                        );
                    }
                    if valid[k] {
                        ids_kept.push((s * n as usize + j) as f64);
                    }
                    assert!(
                        (vis[k] - r.visibility).abs() < 1e-9,
                        "chain {c} seed {seed} box {k}: visibility {} against {}",
                        vis[k],
                        r.visibility
                    );
                    if !alive {
                        gone += 1;
                        if old_valid[k] {
                            phantoms_at_the_end_only += 1;
                        }
                        continue;
                    }
                    // The box is the enclosure of the scalar region ...
                    let xs = r.region.iter().map(|p| p[0]);
                    let ys = r.region.iter().map(|p| p[1]);
                    let enc = [
                        xs.clone().fold(f64::INFINITY, f64::min),
                        ys.clone().fold(f64::INFINITY, f64::min),
                        xs.fold(f64::NEG_INFINITY, f64::max),
                        ys.fold(f64::NEG_INFINITY, f64::max),
                    ];
                    for a in 0..4 {
                        assert!(
                            (data[4 * k + a] - enc[a]).abs() < 1e-9,
                            "chain {c} seed {seed} box {k}: {:?} against {enc:?}",
                            &data[4 * k..4 * k + 4]
                        );
                    }
                    // ... and, for a kept box, within 1 px of the raster's, which it contains.
                    if let (true, Some(ras)) = (valid[k], r.raster) {
                        kept += 1;
                        for a in 0..4 {
                            let (got, want) = (data[4 * k + a], ras[a]);
                            let outward = if a < 2 { want - got } else { got - want };
                            assert!((-1e-9..=1.0).contains(&outward), "chain {c} seed {seed} box {k}: side {a} is {got}, the raster's {want}; box {:?} region {:?} raster {ras:?} frames {frames:?} m {m:?}", &in_boxes[4*k..4*k+4], r.region);
                            let old_out = if a < 2 {
                                want - old_data[4 * k + a]
                            } else {
                                old_data[4 * k + a] - want
                            };
                            loose_at_the_end_only = loose_at_the_end_only.max(old_out);
                        }
                    }
                }
                // Keypoints: inside every frame, as mapped by the matrices.
                for j in 0..n as usize {
                    let k = s * n as usize + j;
                    let mut p = [in_kps[2 * k], in_kps[2 * k + 1]];
                    let inside = |p: &Pt, (fh, fw): (i64, i64)| {
                        p[0] >= 0.0
                            && p[0] <= (fw - 1) as f64
                            && p[1] >= 0.0
                            && p[1] <= (fh - 1) as f64
                    };
                    let mut ok = inside(&p, frames[0]);
                    let mut margin = f64::INFINITY;
                    for (mi, f) in m.iter().zip(&frames[1..]) {
                        p = map(mi, &p);
                        ok &= inside(&p, *f);
                        let d = [p[0], (f.1 - 1) as f64 - p[0], p[1], (f.0 - 1) as f64 - p[1]];
                        margin =
                            margin.min(d.iter().map(|v| v.abs()).fold(f64::INFINITY, f64::min));
                    }
                    if margin > 1e-9 {
                        keypoints_checked += 1;
                        assert_eq!(kp_valid[k], ok, "chain {c} seed {seed} keypoint {k}");
                    }
                }
            }
            // Class ids of the kept boxes, in order, image by image.
            let listed: Vec<f64> = ob.class_id_list().iter().flat_map(f64s).collect();
            assert_eq!(listed, ids_kept);
        }
    }
    println!("{seen} boxes: {kept} kept with a raster, {gone} gone; at the end only: {phantoms_at_the_end_only} came back, sides up to {loose_at_the_end_only:.1} px loose; {keypoints_checked} keypoints");
    assert!(gone > 20 && kept > 100 && keypoints_checked > 400);
    // The chains do make boxes come back and loose when clipped at the end only.
    assert!(phantoms_at_the_end_only > 0 && loose_at_the_end_only > 2.0);
}

/// The scalar clipper and the raster for one box [x1, y1, x2, y2] through matrices `m`
/// (inverses `inv`) and frames (input first).
fn reference(bx: &[f64], m: &[Vec<f64>], inv: &[Vec<f64>], frames: &[(i64, i64)]) -> Reference {
    let corners = [
        [bx[0], bx[1]],
        [bx[2], bx[1]],
        [bx[2], bx[3]],
        [bx[0], bx[3]],
    ];
    let mut region = clip_frame(&corners, frames[0].0, frames[0].1);
    let mut whole = corners.to_vec();
    for (mi, f) in m.iter().zip(&frames[1..]) {
        region = region.iter().map(|p| map(mi, p)).collect();
        region = clip_frame(&region, f.0, f.1);
        whole = whole.iter().map(|p| map(mi, p)).collect();
    }
    let visibility = if region.is_empty() {
        0.0
    } else {
        (area(&region) / area(&whole)).min(1.0)
    };
    // The raster: output samples every 1/4 px, kept where every frame and the box hold them.
    let (ho, wo) = *frames.last().unwrap();
    let mut enc: Option<[f64; 4]> = None;
    for yi in 0..(4 * (ho - 1) + 1) {
        for xi in 0..(4 * (wo - 1) + 1) {
            let q = [xi as f64 / 4.0, yi as f64 / 4.0];
            let mut p = q;
            let mut ok = true;
            for (k, mi) in inv.iter().enumerate().rev() {
                p = map(mi, &p);
                let (fh, fw) = frames[k];
                let e = 1e-9;
                if p[0] < -e
                    || p[1] < -e
                    || p[0] > (fw - 1) as f64 + e
                    || p[1] > (fh - 1) as f64 + e
                {
                    ok = false;
                    break;
                }
            }
            ok &= p[0] >= bx[0] - 1e-9
                && p[0] <= bx[2] + 1e-9
                && p[1] >= bx[1] - 1e-9
                && p[1] <= bx[3] + 1e-9;
            if ok {
                enc = Some(match enc {
                    None => [q[0], q[1], q[0], q[1]],
                    Some(e) => [
                        e[0].min(q[0]),
                        e[1].min(q[1]),
                        e[2].max(q[0]),
                        e[3].max(q[1]),
                    ],
                });
            }
        }
    }
    Reference {
        region,
        visibility,
        raster: enc,
    }
}

/// Boxes through a mosaic, checked against the mosaic of their masks. Each input box has a
/// mask channel of its own (channel b·N + n of image b, zero in the other images), so the
/// output's channel for a row's source box, read inside the row's tile, is that box's part
/// in the window, made by the image path alone. With the detection options a row's box is
/// the enclosure of those pixels, present exactly where there are some, and (mosaicked
/// samples) at least `min_bbox_size` in Kornia's area; class ids and the caller's validity
/// follow the box. With the default options a row is its source box moved with its tile,
/// unclipped. A gated-off sample keeps its own boxes first, then rows without a box.
#[test]
fn a_mosaic_regroups_boxes_as_it_mosaics_their_masks() {
    let _serial = common::serial();
    let (b, n, h, w) = (4i64, 3i64, 8i64, 10i64);
    let (gw, gh) = (2i64, 2i64);
    let (g, oh, ow) = (gw * gh, 10i64, 12i64);
    let min_bbox = 2.0;
    let steps = vec![AugSpec::RandomMosaic(MosaicConfig {
        output_size: Some((oh, ow)),
        mosaic_grid: (gw, gh),
        start_ratio_range: (0.0, 0.8),
        min_bbox_size: min_bbox,
        p: 0.6,
        ..Default::default()
    })];
    let vs = VarStore::new(Device::Cpu);
    let detection = pipeline(&vs, steps.clone(), AnnotationOptions::detection());
    let corners = pipeline(&vs, steps, AnnotationOptions::default());
    let (mut gated_on, mut gated_off, mut present, mut absent) = (0, 0, 0, 0);
    for seed in 0..12 {
        tch::manual_seed(seed);
        // Integer boxes, so that clipping them is exact on the pixel grid.
        let x1 = Tensor::randint(w - 1, [b, n], (Kind::Int64, Device::Cpu));
        let y1 = Tensor::randint(h - 1, [b, n], (Kind::Int64, Device::Cpu));
        let x2 = (&x1 + Tensor::randint(w, [b, n], (Kind::Int64, Device::Cpu))).clamp_max(w - 1);
        let y2 = (&y1 + Tensor::randint(h, [b, n], (Kind::Int64, Device::Cpu))).clamp_max(h - 1);
        let xyxy = Tensor::stack(&[&x1, &y1, &x2, &y2], -1).to_kind(Kind::Float);
        let valid = Tensor::rand([b, n], (Kind::Float, Device::Cpu)).gt(0.2);
        let ids = Tensor::randint(1000, [b, n], (Kind::Int64, Device::Cpu));
        let bx = f64s(&xyxy);
        let ok_in = bools(&valid);
        let id_in = Vec::<i64>::try_from(ids.reshape([-1])).unwrap();
        // Channel b·N + n: box n of image b, inclusive, zero elsewhere.
        let ys = Tensor::arange(h, (Kind::Float, Device::Cpu)).view([1, 1, h, 1]);
        let xs = Tensor::arange(w, (Kind::Float, Device::Cpu)).view([1, 1, 1, w]);
        let at = |i: usize| xyxy.select(-1, i as i64).view([b, n, 1, 1]);
        let own = ys
            .ge_tensor(&at(1))
            .logical_and(&ys.le_tensor(&at(3)))
            .logical_and(&xs.ge_tensor(&at(0)))
            .logical_and(&xs.le_tensor(&at(2)))
            .to_kind(Kind::Float); // (B,N,H,W)
        let onehot = Tensor::eye(b, (Kind::Float, Device::Cpu)).view([b, b, 1, 1, 1]);
        let masks = (onehot * own.unsqueeze(0)).view([b, b * n, h, w]);
        let batch = Batch::new(Tensor::rand([b, 3, h, w], (Kind::Float, Device::Cpu)))
            .with_masks(masks)
            .with_boxes(
                Boxes::xyxy(xyxy.shallow_clone())
                    .with_valid(valid)
                    .with_class_ids(ids),
            );
        let (out, params) = detection.f_forward_batch(&batch).unwrap();
        let again = corners.f_apply_batch(&batch, &params).unwrap();
        let boxes = out.boxes.unwrap();
        assert_eq!(boxes.data.size(), [b, g * n, 4]);
        let got = f64s(&boxes.data);
        let ok = bools(boxes.valid.as_ref().unwrap());
        let id_out = Vec::<i64>::try_from(boxes.class_ids.unwrap().reshape([-1])).unwrap();
        let unclipped = f64s(&again.boxes.as_ref().unwrap().data);
        let ok_unclipped = bools(again.boxes.as_ref().unwrap().valid.as_ref().unwrap());
        let m = out.masks.unwrap();
        let perm =
            Vec::<i64>::try_from(params.get("0.permutation").unwrap().reshape([-1])).unwrap();
        let src = f64s(params.get("0.src").unwrap());
        let on = bools(&params.get("0.batch_prob").unwrap().gt(0.5));
        for s in 0..b as usize {
            if on[s] {
                gated_on += 1;
            } else {
                gated_off += 1;
            }
            let (x0, y0) = (src[s * 8] as i64, src[s * 8 + 1] as i64);
            for k in 0..g as usize {
                for j in 0..n as usize {
                    let row = s * (g * n) as usize + k * n as usize + j;
                    // The row's source box and where its tile lies in the output.
                    let (image, dx, dy) = match (on[s], k) {
                        (true, _) => (
                            perm[s * g as usize + k] as usize,
                            w * (k as i64 / gh) - x0,
                            h * (k as i64 % gh) - y0,
                        ),
                        (false, 0) => (s, 0, 0),
                        (false, _) => {
                            assert!(
                                !ok[row] && !ok_unclipped[row],
                                "seed {seed} padding row {row}"
                            );
                            continue;
                        }
                    };
                    let from = image * n as usize + j;
                    // The mosaic of the box's mask, inside the row's tile.
                    let tile = m
                        .get(s as i64)
                        .get(from as i64)
                        .narrow(0, dy.clamp(0, oh), (dy + h).clamp(0, oh) - dy.clamp(0, oh))
                        .narrow(1, dx.clamp(0, ow), (dx + w).clamp(0, ow) - dx.clamp(0, ow));
                    let pixels = tile.gt(0.5).nonzero();
                    let seen = pixels.size()[0] > 0;
                    let mut want_ok = ok_in[from] && seen;
                    if seen {
                        let lo = pixels.amin(0, false);
                        let hi = pixels.amax(0, false);
                        let (r0, c0) = (
                            i64::try_from(lo.get(0)).unwrap(),
                            i64::try_from(lo.get(1)).unwrap(),
                        );
                        let (r1, c1) = (
                            i64::try_from(hi.get(0)).unwrap(),
                            i64::try_from(hi.get(1)).unwrap(),
                        );
                        let want = [
                            c0 + dx.max(0),
                            r0 + dy.max(0),
                            c1 + dx.max(0),
                            r1 + dy.max(0),
                        ];
                        if on[s] {
                            want_ok &=
                                ((want[2] - want[0]) * (want[3] - want[1])) as f64 >= min_bbox;
                        }
                        if want_ok {
                            for (c, v) in want.iter().enumerate() {
                                let e = (got[row * 4 + c] - *v as f64).abs();
                                assert!(
                                    e < 1e-4,
                                    "seed {seed} row {row}: {:?} vs {want:?}",
                                    &got[row * 4..row * 4 + 4]
                                );
                            }
                        }
                    }
                    assert_eq!(ok[row], want_ok, "seed {seed} sample {s} row {row}");
                    if want_ok {
                        present += 1;
                        assert_eq!(id_out[row], id_in[from], "seed {seed} row {row}: class id");
                    } else {
                        absent += 1;
                    }
                    // Default options: the source box moved with its tile, unclipped.
                    if ok_unclipped[row] {
                        for c in 0..4 {
                            let shift = if c % 2 == 0 { dx } else { dy } as f64;
                            let e = (unclipped[row * 4 + c] - (bx[from * 4 + c] + shift)).abs();
                            assert!(e < 1e-4, "seed {seed} row {row}: unclipped");
                        }
                    }
                    assert!(!ok_unclipped[row] || ok_in[from], "seed {seed} row {row}");
                }
            }
        }
        let e = detection.f_forward_batch(&batch.clone().with_keypoints(Keypoints::new(
            Tensor::zeros([b, 1, 2], (Kind::Float, Device::Cpu)),
        )));
        assert!(
            matches!(
                e,
                Err(Error::Annotation {
                    what: "keypoints",
                    ..
                })
            ),
            "{e:?}"
        );
    }
    println!("MOSAIC BOXES: {gated_on} samples mosaicked, {gated_off} not; {present} boxes kept, {absent} not");
    assert!(gated_on >= 10 && gated_off >= 5 && present >= 40 && absent >= 40);
}
