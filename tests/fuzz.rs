//! A fuzz test: random configs (mutated JSON of every operator, alone and in pipelines),
//! random shapes, dtypes, layouts and values, and corrupted params, through every `f_`
//! entry point. It asserts: no panic, only typed errors (a libtorch error only for an
//! allocation that does not fit), a finite output for a finite input of image magnitude
//! (|x| <= 1e3; for one operator with any accepted config, or a pipeline of unmutated
//! ones), a NaN that stays in its sample (unless mixed), a replay equal to the forward
//! pass, the same output for a contiguous copy of the input (up to rounding), the input
//! untouched, the image of `f_apply_batch` equal to `f_apply`'s, and, where the steps warp
//! by their matrices (bilinear), a coordinate ramp moved as each step's matrix says, and the
//! pipeline's matrix the product of its steps'. Wrong and oversized shapes go to the
//! inverse and the matrix, which must refuse them.
//!
//! `./run test` runs a short fixed-seed run. A long run with a time budget:
//! `FUZZ_SECONDS=600 FUZZ_SEED=7 cargo test --release --test fuzz -- --nocapture`
//! (`scripts/fuzz.sh` does this).

mod common;

use serde_json::Value;
use std::panic::{catch_unwind, AssertUnwindSafe};
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};
use tch_dda::*;

/// splitmix64: the fuzzer's own stream (torch's generator draws the augmentations').
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, p: f64) -> bool {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }
    fn pick<T: Clone>(&mut self, v: &[T]) -> T {
        v[self.below(v.len())].clone()
    }
}

const HOSTILE_NUMBERS: [f64; 16] = [
    0.0, -1.0, 1.0, 0.5, 2.0, 7.0, -7.0, 100.0, 1e-300, 1e300, 1e39, -1e39, 3.4e38, 1e-45, 0.999,
    -0.5,
];

/// Replaces, removes or adds one leaf of `v` (a spec's JSON), or leaves it.
fn mutate(v: &mut Value, rng: &mut Rng, depth: usize) {
    match v {
        Value::Object(map) if !map.is_empty() => {
            let r = rng.below(10);
            if r == 0 && depth > 0 {
                let k = map.keys().nth(rng.below(map.len())).unwrap().clone();
                map.remove(&k);
            } else if r == 1 && depth > 0 {
                map.insert("not_a_field".into(), Value::from(1));
            } else {
                let k = map.keys().nth(rng.below(map.len())).unwrap().clone();
                mutate(map.get_mut(&k).unwrap(), rng, depth + 1);
            }
        }
        Value::Array(a) if !a.is_empty() => {
            let r = rng.below(8);
            if r == 0 {
                a.pop();
            } else if r == 1 {
                let last = a.last().unwrap().clone();
                a.push(last);
            } else {
                let i = rng.below(a.len());
                mutate(&mut a[i], rng, depth + 1);
            }
        }
        Value::Number(_) => {
            *v = if rng.chance(0.2) {
                Value::from(rng.below(40) as i64 - 5)
            } else {
                serde_json::Number::from_f64(rng.pick(&HOSTILE_NUMBERS))
                    .map(Value::Number)
                    .unwrap_or(Value::Null)
            };
        }
        Value::Bool(b) => *b = !*b,
        Value::Null => *v = Value::from(rng.pick(&HOSTILE_NUMBERS)),
        Value::String(s) => {
            *s = rng
                .pick(&[
                    "nearest", "bilinear", "bicubic", "zeros", "reflect", "x", "",
                ])
                .into();
        }
        _ => {}
    }
}

fn spatial_dims(spec: &AugSpec) -> usize {
    let n = spec.name();
    if n.ends_with("3D") {
        3
    } else {
        2
    }
}

/// A random pipeline or single operator, as JSON (mutated or not), its spatial dims, and
/// whether its values can be trusted to compose: one step, or no mutation (a chain of
/// accepted but extreme steps, an inversion at 3.4e38 then a Normalize, rightly overflows).
fn random_spec(rng: &mut Rng, specs: &[AugSpec]) -> (String, usize, bool) {
    let dims3 = rng.chance(0.2);
    let pool: Vec<&AugSpec> = specs
        .iter()
        .filter(|s| (spatial_dims(s) == 3) == dims3)
        .collect();
    let n = if rng.chance(0.5) { 1 } else { 2 + rng.below(3) };
    let steps: Vec<Value> = (0..n)
        .map(|_| serde_json::to_value(rng.pick(&pool)).unwrap())
        .collect();
    let mut json = if n == 1 && rng.chance(0.6) {
        Value::Array(steps)
    } else {
        let mut obj = serde_json::json!({ "steps": steps });
        if rng.chance(0.4) {
            obj["random_apply"] = rng.pick(&[
                serde_json::json!("all"),
                serde_json::json!({"exactly": 1}),
                serde_json::json!({"between": [1, 2]}),
                serde_json::json!({"at_least": 1}),
            ]);
        }
        if rng.chance(0.2) {
            obj["same_on_batch"] = Value::Bool(true);
        }
        if rng.chance(0.2) {
            obj["fuse_geometry"] = Value::Bool(true);
        }
        if rng.chance(0.2) {
            obj["fuse_color"] = Value::Bool(true);
        }
        obj
    };
    let mutations = rng.below(3);
    for _ in 0..mutations {
        mutate(&mut json, rng, 0);
    }
    (
        json.to_string(),
        if dims3 { 3 } else { 2 },
        n == 1 || mutations == 0,
    )
}

fn random_input(rng: &mut Rng, dims: usize) -> Tensor {
    let mut rank = 2 + dims;
    if rng.chance(0.1) {
        rank = rng.pick(&[1, 2, 3, 4, 5, 6]);
    } else if rng.chance(0.2) {
        rank -= 1; // unbatched
    }
    let shape: Vec<i64> = (0..rank)
        .map(|i| {
            if rng.chance(0.02) {
                0
            } else if i + 1 < rank.saturating_sub(dims - 1) {
                rng.pick(&[1, 2, 3, 4])
            } else {
                rng.pick(&[1, 2, 3, 5, 8, 13, 24])
            }
        })
        .collect();
    let kind = match rng.below(20) {
        0..=14 => Kind::Float,
        15 | 16 => Kind::Double,
        17 => Kind::Half,
        18 => Kind::Uint8,
        _ => Kind::Int64,
    };
    let x = Tensor::rand(shape.as_slice(), (Kind::Float, Device::Cpu));
    let x = match rng.below(20) {
        0 => x.f_mul_scalar(1e30).unwrap(),
        1 => x.f_sub_scalar(0.5).unwrap(),
        2 if x.numel() > 0 => {
            let flat = x.view([-1]);
            let _ = flat.narrow(0, 0, 1).fill_(f64::NAN);
            x
        }
        3 if x.numel() > 0 => {
            let flat = x.view([-1]);
            let _ = flat.narrow(0, x.numel() as i64 - 1, 1).fill_(f64::INFINITY);
            x
        }
        _ => x,
    };
    let x = if kind == Kind::Float {
        x
    } else {
        (x * 255.0).to_kind(kind)
    };
    let x = match rng.below(10) {
        // Non-contiguous with the same shape.
        0 if rank >= 2 => x.transpose(-1, -2).contiguous().transpose(-1, -2),
        // An expanded batch.
        1 if rank >= 1 && shape[0] > 0 => x.narrow(0, 0, 1).expand(shape.as_slice(), false),
        _ => x,
    };
    if rng.chance(0.1) && x.is_floating_point() {
        x.detach().set_requires_grad(true)
    } else {
        x
    }
}

fn same_values(a: &Tensor, b: &Tensor) -> bool {
    a.size() == b.size()
        && a.kind() == b.kind()
        && (!a.is_floating_point()
            || a.isnan().equal(&b.isnan())
                && a.nan_to_num(0.0, None, None)
                    .equal(&b.nan_to_num(0.0, None, None)))
        && (a.is_floating_point() || a.equal(b))
}

/// Equal up to float rounding (NaN where the other is NaN).
fn close(a: &Tensor, b: &Tensor) -> bool {
    a.size() == b.size()
        && a.kind() == b.kind()
        && (a.numel() == 0
            || if a.is_floating_point() {
                a.to_kind(Kind::Double)
                    .allclose(&b.to_kind(Kind::Double), 1e-5, 1e-6, true)
            } else {
                a.equal(b)
            })
}

fn all_finite(t: &Tensor) -> bool {
    !t.is_floating_point() || t.numel() == 0 || bool::try_from(t.isfinite().all()).unwrap()
}

/// Finite and of image magnitude (|x| <= 1e3): what the finite-output property covers (a
/// finite 1e30 input times a finite factor may overflow float32, rightly).
fn image_like(t: &Tensor) -> bool {
    t.is_floating_point()
        && all_finite(t)
        && (t.numel() == 0 || t.abs().max().double_value(&[]) <= 1e3)
}

/// An error the fuzzer accepts: any typed error, but a libtorch error only when memory ran
/// out (the crate validates everything else before calling libtorch).
fn typed(e: &Error) -> bool {
    match e {
        Error::Torch(t) => t.to_string().contains("allocate"),
        _ => true,
    }
}

/// The first line of an error (libtorch appends its C++ backtrace).
fn short(e: &Error) -> String {
    e.to_string().lines().next().unwrap_or("").to_string()
}

/// A copy of `params` with one entry corrupted.
fn corrupt(params: &Params, rng: &mut Rng) -> Params {
    let keys: Vec<String> = params.keys().map(String::from).collect();
    let mut out = Params::new();
    if keys.is_empty() {
        return out;
    }
    let victim = rng.pick(&keys);
    for (k, v) in params.iter() {
        if k != victim {
            out.insert(k, v.shallow_clone());
            continue;
        }
        match rng.below(5) {
            0 => {}
            1 if v.is_floating_point() => out.insert(k, v.full_like(f64::NAN)),
            2 if v.dim() > 0 && v.size()[0] > 0 => out.insert(k, v.narrow(0, 0, v.size()[0] - 1)),
            3 => out.insert(k, v.unsqueeze(0)),
            _ => out.insert(k, v.to_kind(Kind::Int64)),
        }
    }
    out
}

struct Case {
    json: String,
    shape: Vec<i64>,
    kind: Kind,
}

impl std::fmt::Display for Case {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} on {:?} {:?}", self.json, self.shape, self.kind)
    }
}

/// Runs one case; returns a failure message, or `None` when every property held.
fn run_case(rng: &mut Rng, specs: &[AugSpec], stats: &mut Stats) -> Option<String> {
    let (json, dims, composes) = random_spec(rng, specs);
    let x = random_input(rng, dims);
    let case = Case {
        json: json.clone(),
        shape: x.size(),
        kind: x.kind(),
    };
    let before = x.detach().copy();
    let vs = VarStore::new(Device::Cpu);
    let got = catch_unwind(AssertUnwindSafe(|| Sequential::from_json(vs.root(), &json)));
    let seq = match got {
        Err(_) => return Some(format!("from_json panicked: {case}")),
        Ok(Err(e)) if !typed(&e) => {
            return Some(format!("from_json: untyped {}: {case}", short(&e)))
        }
        Ok(Err(_)) => {
            stats.refused_configs += 1;
            return None;
        }
        Ok(Ok(seq)) => seq,
    };
    stats.built += 1;
    let fwd = catch_unwind(AssertUnwindSafe(|| seq.f_forward_with_params(&x)));
    let (out, params) = match fwd {
        Err(_) => return Some(format!("f_forward panicked: {case}")),
        Ok(Err(e)) if !typed(&e) => {
            return Some(format!("f_forward: untyped {}: {case}", short(&e)))
        }
        Ok(Err(_)) => {
            stats.refused_inputs += 1;
            return None;
        }
        Ok(Ok(v)) => v,
    };
    stats.ran += 1;
    if !same_values(&x.detach(), &before) {
        return Some(format!("the input was modified: {case}"));
    }
    if composes && image_like(&before) && !all_finite(&out) {
        return Some(format!("non-finite output for a finite input: {case}"));
    }
    // The replay is the forward pass.
    match catch_unwind(AssertUnwindSafe(|| seq.f_apply(&x, &params))) {
        Err(_) => return Some(format!("f_apply panicked: {case}")),
        Ok(Err(e)) => {
            // A finite input replays; a non-finite one may be refused (NonFinite is only
            // raised for finite inputs, so any error here is a failure).
            return Some(format!(
                "replay of its own params failed: {}: {case}",
                short(&e)
            ));
        }
        Ok(Ok(again)) => {
            if !same_values(&again.detach(), &out.detach()) {
                return Some(format!("the replay differs from the forward pass: {case}"));
            }
        }
    }
    // The layout does not matter: a contiguous copy of the input (no grad) gives the same.
    let plain = x.detach().contiguous();
    match seq.f_apply(&plain, &params) {
        // Up to rounding: vectorised kernels may take another path for another layout.
        Ok(y) if close(&y, &out.detach()) => {}
        Ok(_) => {
            return Some(format!(
                "a contiguous copy of the input gives another output: {case}"
            ))
        }
        Err(e) => {
            return Some(format!(
                "a contiguous copy of the input fails: {}: {case}",
                short(&e)
            ))
        }
    }
    // A NaN or inf in one sample stays there, unless a step mixes samples on purpose.
    let mixes = ["MixUp", "CutMix", "PatchMix", "Transplantation", "Mosaic"]
        .iter()
        .any(|m| json.contains(m));
    if composes && x.dim() == 2 + dims && x.size()[0] > 1 && out.dim() == x.dim() && !mixes {
        let rest = |t: &Tensor| t.detach().narrow(0, 1, t.size()[0] - 1);
        if image_like(&rest(&before)) && !all_finite(&rest(&out)) {
            return Some(format!(
                "a non-finite sample reached another sample: {case}"
            ));
        }
    }
    // Corrupted params: an error or a result, never a panic, never NaN from finite input.
    let bad = corrupt(&params, rng);
    match catch_unwind(AssertUnwindSafe(|| seq.f_apply(&x, &bad))) {
        Err(_) => return Some(format!("f_apply of corrupted params panicked: {case}")),
        Ok(Err(e)) if !typed(&e) => {
            return Some(format!(
                "f_apply of corrupted params: untyped {}: {case}",
                short(&e)
            ))
        }
        Ok(Err(_)) => stats.refused_params += 1,
        Ok(Ok(y)) => {
            if composes && image_like(&before) && !all_finite(&y) {
                return Some(format!("corrupted params gave non-finite output: {case}"));
            }
        }
    }
    // The geometry of random shapes, and the inverse.
    let shape = random_input(rng, dims).size();
    let r = catch_unwind(AssertUnwindSafe(|| {
        seq.f_transform_matrix(&shape, &params, Kind::Float, Device::Cpu)
            .map(|_| ())
    }));
    match r {
        Err(_) => return Some(format!("f_transform_matrix({shape:?}) panicked: {case}")),
        Ok(Err(e)) if !typed(&e) => {
            return Some(format!(
                "f_transform_matrix({shape:?}): untyped {}: {case}",
                short(&e)
            ))
        }
        _ => {}
    }
    let r = catch_unwind(AssertUnwindSafe(|| seq.f_inverse(&out, &params, &x.size())));
    match r {
        Err(_) => return Some(format!("f_inverse panicked: {case}")),
        Ok(Err(e)) if !typed(&e) => {
            return Some(format!("f_inverse: untyped {}: {case}", short(&e)))
        }
        // The inverse comes back in the forward pass's input shape (but where PadTo may
        // have cropped (crop_if_exceeds, on by default): as Kornia's, its inverse slices the
        // padding off and cannot give back what it cut).
        Ok(Ok(inv)) if inv.size() != x.size() && !json.contains("PadTo") => {
            return Some(format!(
                "f_inverse gave {:?} for {:?}: {case}",
                inv.size(),
                x.size()
            ))
        }
        _ => {}
    }
    // Batch outputs against the tensor entry point: the image of a batch that holds only
    // the image is f_apply's output.
    match catch_unwind(AssertUnwindSafe(|| {
        seq.f_apply_batch(&Batch::new(x.shallow_clone()), &params)
    })) {
        Err(_) => return Some(format!("f_apply_batch panicked: {case}")),
        Ok(Err(e)) => {
            return Some(format!(
                "f_apply_batch failed where f_apply ran: {}: {case}",
                short(&e)
            ))
        }
        Ok(Ok(b)) if !close(&b.image.detach(), &out.detach()) => {
            return Some(format!(
                "f_apply_batch's image differs from f_apply's: {case}"
            ))
        }
        Ok(Ok(_)) => stats.batch_checked += 1,
    }
    // Matrices against the applied warp, where every step is a warp by its matrix with a
    // bilinear resampling (which reproduces a linear function exactly; torch's bicubic, with
    // a = -0.75, is off by up to 0.048 px): the output of a coordinate ramp holds, at every
    // pixel p that samples the interior, M⁻¹ p.
    if let Some(e) = ramp_check(&seq, &x.size(), &params, dims, stats) {
        return Some(format!("{e}: {case}"));
    }
    // Shapes the params were not drawn for: another batch, and one past any memory. Every
    // entry point that takes a shape refuses them (when the params record a batch).
    if x.dim() == dims + 2 {
        let mut other = x.size();
        other[0] += 1 + rng.below(3) as i64;
        let mut huge = x.size();
        let n = huge.len();
        huge[n - 1] = 1 << 40;
        huge[n - 2] = 1 << 30;
        let records_batch = params.keys().any(|k| k.ends_with("batch_prob"));
        for (what, s) in [("another batch", &other), ("2^70 pixels", &huge)] {
            if what == "another batch" && !records_batch {
                continue;
            }
            let r = catch_unwind(AssertUnwindSafe(|| {
                (
                    seq.f_inverse(&out, &params, s).map(|_| ()),
                    seq.f_transform_matrix(s, &params, Kind::Float, Device::Cpu)
                        .map(|_| ()),
                )
            }));
            match r {
                Err(_) => return Some(format!("a shape of {what} {s:?} panicked: {case}")),
                Ok((a, b)) => {
                    for (entry, r) in [("f_inverse", a), ("f_transform_matrix", b)] {
                        match r {
                            Ok(()) => {
                                return Some(format!(
                                    "{entry} accepted a shape of {what} {s:?}: {case}"
                                ))
                            }
                            Err(e) if !typed(&e) => {
                                return Some(format!("{entry}: untyped {}: {case}", short(&e)))
                            }
                            Err(_) => {}
                        }
                    }
                }
            }
        }
        stats.wrong_shapes += 1;
    }
    // A record with a mask of random shape and random boxes.
    if dims == 2 && x.dim() >= 3 {
        let mask_shape = random_input(rng, 2).size();
        let mask = Tensor::rand(mask_shape.as_slice(), (Kind::Float, Device::Cpu)).gt(0.5);
        let b = if x.dim() == 4 { x.size()[0] } else { 1 };
        let n = rng.below(4) as i64;
        let boxes = Tensor::rand([b.max(0), n, 4], (Kind::Float, Device::Cpu)) * 30.0 - 5.0;
        let r = catch_unwind(AssertUnwindSafe(|| {
            let batch = Batch::new(x.shallow_clone())
                .with_masks(mask.shallow_clone())
                .with_boxes(Boxes::xyxy(boxes.shallow_clone()));
            seq.f_forward_batch(&batch).map(|_| ())
        }));
        match r {
            Err(_) => {
                return Some(format!(
                    "f_forward_batch (mask {mask_shape:?}, {n} boxes) panicked: {case}"
                ))
            }
            Ok(Err(e)) if !typed(&e) => {
                return Some(format!("f_forward_batch: untyped {}: {case}", short(&e)))
            }
            _ => {}
        }
        // The detection mode on the same steps: every valid box lies inside the output
        // frame, visibilities are fractions, and no keypoint outside it is valid.
        if let Some(msg) = detection_check(&json, &x, &boxes, rng.below(2) == 0, stats) {
            return Some(format!("{msg}: {case}"));
        }
    }
    None
}

/// Runs the record of `x` with `boxes` (and keypoints at their corners) through `json`'s
/// steps in the detection mode (with thresholds, or not) and checks its outputs.
fn detection_check(
    json: &str,
    x: &Tensor,
    boxes: &Tensor,
    thresholds: bool,
    stats: &mut Stats,
) -> Option<String> {
    let mut cfg: SequentialConfig = serde_json::from_str(json).ok()?;
    cfg.annotations = AnnotationOptions {
        min_visibility: if thresholds { 0.25 } else { 0.0 },
        min_size: if thresholds { 1.5 } else { 0.0 },
        ..AnnotationOptions::detection()
    };
    let vs = VarStore::new(Device::Cpu);
    let seq = Sequential::new(vs.root(), cfg).ok()?;
    let b = boxes.size()[0];
    let kps = boxes.narrow(-1, 0, 2).copy();
    let r = catch_unwind(AssertUnwindSafe(|| {
        let batch = Batch::new(x.shallow_clone())
            .with_boxes(Boxes::xyxy(boxes.abs().cumsum(-1, None) - 5.0))
            .with_keypoints(Keypoints::new(kps.shallow_clone()));
        seq.f_forward_batch(&batch)
    }));
    let out = match r {
        Err(_) => return Some("f_forward_batch in the detection mode panicked".into()),
        Ok(Err(e)) if !typed(&e) => return Some(format!("detection mode: untyped {}", short(&e))),
        Ok(Err(_)) => return None,
        Ok(Ok((out, _))) => out,
    };
    let (bx, kp) = (out.boxes?, out.keypoints?);
    let img = out.image.size();
    let (h, w) = (img[img.len() - 2] as f64, img[img.len() - 1] as f64);
    let data = bx.data.reshape([b, -1, 4]);
    let valid = bx.valid?.reshape([b, -1]);
    let vis = bx.visibility?;
    let inside = data
        .select(-1, 0)
        .ge(-1e-4)
        .logical_and(&data.select(-1, 1).ge(-1e-4))
        .logical_and(&data.select(-1, 2).le(w - 1.0 + 1e-4))
        .logical_and(&data.select(-1, 3).le(h - 1.0 + 1e-4))
        .logical_and(&data.select(-1, 2).ge_tensor(&data.select(-1, 0)))
        .logical_and(&data.select(-1, 3).ge_tensor(&data.select(-1, 1)));
    stats.detection_checked += 1;
    if !bool::try_from(inside.logical_or(&valid.logical_not()).all()).unwrap_or(false) {
        return Some(format!(
            "detection mode: a valid box outside the {h}x{w} output"
        ));
    }
    if !bool::try_from(vis.ge(0.0).logical_and(&vis.le(1.0)).all()).unwrap_or(false) {
        return Some("detection mode: a visibility outside [0, 1]".into());
    }
    let p = kp.points.reshape([b, -1, 2]);
    let kin = p
        .select(-1, 0)
        .ge(0.0)
        .logical_and(&p.select(-1, 0).le(w - 1.0))
        .logical_and(&p.select(-1, 1).ge(0.0))
        .logical_and(&p.select(-1, 1).le(h - 1.0));
    let kvalid = kp.valid?.reshape([b, -1]);
    if !bool::try_from(kin.logical_or(&kvalid.logical_not()).all()).unwrap_or(false) {
        return Some("detection mode: a valid keypoint outside the output".into());
    }
    None
}

/// The largest |M⁻¹ p - ramp(p)| of one warp step, over output pixels p whose source lies
/// at least one pixel inside its input of shape `shape` ((B,C,H,W), C >= 2): the step is
/// applied to a coordinate ramp (channel 0 each pixel's x, channel 1 its y, the rest 0).
/// `None` when no output pixel samples the interior.
fn ramp_error(step: &dyn Augmentation, shape: &[i64], params: &Params) -> Option<f64> {
    let (b, c, h, w) = (shape[0], shape[1], shape[2], shape[3]);
    let m = step
        .f_transform_matrix(shape, params, Kind::Double, Device::Cpu)
        .ok()?;
    let opts = (Kind::Double, Device::Cpu);
    let ramp = common::coordinate_ramp(b, c, h, w).to_kind(Kind::Float);
    let y = step.f_apply(&ramp, params).ok()?.to_kind(Kind::Double);
    let s = y.size();
    let (ho, wo) = (s[2], s[3]);
    let px = Tensor::arange(wo, opts)
        .view([1, 1, wo])
        .expand([b, ho, wo], false);
    let py = Tensor::arange(ho, opts)
        .view([1, ho, 1])
        .expand([b, ho, wo], false);
    let ones = Tensor::ones([b, ho, wo], opts);
    let p = Tensor::stack(&[px, py, ones], -1).reshape([b, ho * wo, 3]);
    let q = p.matmul(&m.inverse().transpose(1, 2));
    let src = q.narrow(-1, 0, 2) / q.narrow(-1, 2, 1);
    let got = y
        .narrow(1, 0, 2)
        .permute([0, 2, 3, 1])
        .reshape([b, ho * wo, 2]);
    let (sx, sy) = (src.select(-1, 0), src.select(-1, 1));
    let inside = sx
        .ge(1.0)
        .logical_and(&sx.le(w as f64 - 2.0))
        .logical_and(&sy.ge(1.0))
        .logical_and(&sy.le(h as f64 - 2.0));
    if inside.sum(Kind::Int64).int64_value(&[]) == 0 {
        return None;
    }
    let diff = (src - got).abs().amax([-1i64].as_slice(), false);
    Some(diff.where_scalarother(&inside, 0.0).max().double_value(&[]))
}

/// Where a step's matrix is kept as Kornia reports it rather than as its pixels move
/// (docs/kornia-differences.md): RandomResizedCrop in slice mode with
/// `align_corners = false` (a corner-aligned matrix, a half-pixel-centred resampling), or
/// with a crop one pixel wide or tall (the pixels repeat one column or row; the matrix keeps
/// scale 1 there so that it stays invertible).
fn matrix_is_kornias(step: &dyn Augmentation, params: &Params) -> bool {
    let AugSpec::RandomResizedCrop(c) = step.spec() else {
        return false;
    };
    let half_pixel = c.cropping_mode == CroppingMode::Slice && !c.align_corners;
    let one_pixel = params.get("src").is_some_and(|src| {
        // (B,4,2) corners: extent - 1 along x is x1 - x0, along y y2 - y1.
        let dx = src.select(1, 1).select(1, 0) - src.select(1, 0).select(1, 0);
        let dy = src.select(1, 2).select(1, 1) - src.select(1, 1).select(1, 1);
        dx.min().double_value(&[]) < 0.5 || dy.min().double_value(&[]) < 0.5
    });
    half_pixel || one_pixel
}

/// Matrices against the applied warp, for a batched image input of at least 2 channels:
/// every step that is a warp by its matrix with bilinear resampling, applied alone with its
/// params to a ramp of its input's shape, must move the pixels as its matrix says (within
/// 1e-3 px); and the pipeline's matrix is the product of its steps'. Steps are taken in
/// order, so a pipeline that draws its steps (`selection`) is left out.
fn ramp_check(
    seq: &Sequential,
    shape: &[i64],
    params: &Params,
    dims: usize,
    stats: &mut Stats,
) -> Option<String> {
    if dims != 2
        || shape.len() != 4
        || shape[1] < 2
        || shape.iter().any(|&n| n < 1)
        || params.get("selection").is_some()
    {
        return None;
    }
    let opts = (Kind::Double, Device::Cpu);
    let mut product = Tensor::eye(3, opts).unsqueeze(0);
    let mut s = shape.to_vec();
    for (i, step) in seq.steps().iter().enumerate() {
        let p = params.sub(&i.to_string());
        let warps = step
            .sampling()
            .is_some_and(|m| m.resample == Resample::Bilinear);
        if warps && !matrix_is_kornias(step.as_ref(), &p) {
            if let Some(err) = ramp_error(step.as_ref(), &s, &p) {
                stats.ramps_checked += 1;
                if err.is_nan() || err > 1e-3 {
                    return Some(format!(
                        "step {i} ({}): its matrix is {err} px off its warp",
                        step.name()
                    ));
                }
            }
        }
        match step.f_transform_matrix(&s, &p, Kind::Double, Device::Cpu) {
            Ok(m) => product = m.matmul(&product),
            Err(_) => return None,
        }
        s = step.output_shape_for(&s, &p);
    }
    let m = seq
        .f_transform_matrix(shape, params, Kind::Double, Device::Cpu)
        .ok()?;
    let off = (&m - &product).abs().max().double_value(&[]);
    let scale = m.abs().max().double_value(&[]).max(1.0);
    (off.is_nan() || off > 1e-6 * scale)
        .then(|| format!("the pipeline's matrix is {off} off the product of its steps' matrices"))
}

/// The least share of cases that must get past validation into a forward pass.
const MIN_REACHED: f64 = 0.3;

#[derive(Default, Debug)]
struct Stats {
    built: usize,
    refused_configs: usize,
    ran: usize,
    refused_inputs: usize,
    refused_params: usize,
    wrong_shapes: usize,
    batch_checked: usize,
    ramps_checked: usize,
    detection_checked: usize,
}

#[test]
fn fuzz_every_operator_and_pipeline() {
    let _serial = common::serial();
    let env = |k: &str| std::env::var(k).ok().and_then(|v| v.parse::<u64>().ok());
    let seed = env("FUZZ_SEED").unwrap_or(20261128);
    let cases = env("FUZZ_CASES").unwrap_or(2000);
    let seconds = env("FUZZ_SECONDS");
    let mut rng = Rng(seed);
    tch::manual_seed(seed as i64);
    let specs = common::all_specs();
    let start = std::time::Instant::now();
    let mut stats = Stats::default();
    let mut failures = Vec::new();
    let mut done = 0u64;
    loop {
        let more = match seconds {
            Some(s) => start.elapsed().as_secs() < s,
            None => done < cases,
        };
        if !more {
            break;
        }
        if let Some(f) = run_case(&mut rng, &specs, &mut stats) {
            failures.push(f);
        }
        done += 1;
    }
    println!(
        "fuzz: seed {seed}, {done} cases in {:.1} s: {stats:?}, {} failures",
        start.elapsed().as_secs_f64(),
        failures.len()
    );
    // Every kind of case must occur, and enough cases must reach the operators (not only
    // their validation): a fuzzer whose inputs are all refused tests nothing.
    assert!(stats.ran > 0 && stats.refused_configs > 0 && stats.refused_inputs > 0);
    let share = stats.ran as f64 / done as f64;
    assert!(
        share >= MIN_REACHED,
        "only {:.0}% of the cases reached an operator ({stats:?})",
        share * 100.0
    );
    assert!(stats.wrong_shapes * 4 >= stats.ran, "{stats:?}");
    assert!(
        stats.batch_checked == stats.ran
            && stats.ramps_checked * 50 >= stats.ran
            && stats.detection_checked * 20 >= stats.ran,
        "{stats:?}"
    );
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
