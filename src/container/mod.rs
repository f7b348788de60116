//! The sequential container: steps in order, or a random selection of them (Kornia's
//! `AugmentationSequential` with `random_apply`, Albumentations' `OneOf` / `SomeOf`), with
//! annotations carried through, geometry composed, inverted, and optionally fused into one
//! resample.

use crate::annotations::{AnnotationOptions, MaskSampling, Record};
use crate::augmentation::{gated_geometry, gated_mask, gated_transform, mask_sampling};
use crate::augmentation::{AugmentationExt, Container, Role, Step};
use crate::geometry::{Geometry, Transform};
use crate::warp::{self, Sampling};
use crate::{AugSpec, Augmentation, Error, Params, Range, Result};
use std::borrow::Borrow;
use tch::{nn, Device, Kind, Tensor};

mod color;
mod config;
mod dispatch;
mod keyed;
mod kornia_args;
mod patch;
mod video;

pub use config::{DataKey, RandomApply, SequentialConfig};
pub use dispatch::{ManyToMany, ManyToOne};
pub use patch::{PatchConfig, PatchPadding, PatchSequential};
pub use video::{VideoConfig, VideoFormat, VideoSequential};

/// Applies augmentations in order, or a random selection of them (Kornia's
/// `AugmentationSequential`).
///
/// Its params hold the `i`-th applied step's entries under `"{i}.{key}"`, and, with
/// [`RandomApply`], the applied steps' indices under `selection` (int64, CPU); replaying
/// them reproduces the output exactly. [`AugmentationExt::f_inverse`] and
/// [`AugmentationExt::f_inverse_batch`] undo the geometric steps in reverse;
/// [`AugmentationExt::f_geometry`] is their composition. Step `i`'s variables live under
/// `path / i`, so a pipeline rebuilt from its JSON loads the same `VarStore` file.
///
/// # Shapes
/// Input (B,C,H,W) or (C,H,W) (volumes (B,C,D,H,W) or (C,D,H,W)); output as the last step
/// makes it.
///
/// # Example
/// ```no_run
/// use tch_dda::{AugSpec, Augmentation, JitterConfig, NormalizeConfig, Sequential};
/// let vs = tch::nn::VarStore::new(tch::Device::Cpu);
/// let specs = [
///     AugSpec::ColorJitter(JitterConfig::new(0.2, 0.3, 0.2, 0.3)),
///     AugSpec::Normalize(NormalizeConfig::imagenet()),
/// ];
/// let seq = Sequential::new(&(vs.root() / "aug"), &specs).unwrap();
/// let json = seq.to_json().unwrap();
/// let again = Sequential::from_json(&(vs.root() / "aug2"), &json).unwrap();
/// assert_eq!(again.to_json().unwrap(), json);
/// ```
#[derive(Debug)]
pub struct Sequential {
    cfg: SequentialConfig,
    steps: Vec<Box<dyn Augmentation>>,
}

const SEQ: &str = "Sequential";

/// How deeply containers may nest (each level is a call frame in every forward pass).
pub const MAX_NESTING: usize = 32;

/// The most steps a container with `random_apply` may draw for one call (each is a pass
/// over the batch; Kornia draws with replacement beyond the number of steps).
pub const MAX_APPLIED: i64 = 1024;

/// The nesting depth of containers in `steps`, found without recursion.
fn spec_depth(steps: &[AugSpec]) -> usize {
    let mut deepest = 0;
    let mut stack: Vec<(&[AugSpec], usize)> = vec![(steps, 1)];
    while let Some((level, depth)) = stack.pop() {
        deepest = deepest.max(depth);
        if depth > MAX_NESTING {
            break;
        }
        for s in level {
            if let AugSpec::Sequential(c) = s {
                stack.push((&c.steps, depth + 1));
            }
        }
    }
    deepest
}

/// Refuses `steps` nested deeper than [`MAX_NESTING`], without recursion.
pub(crate) fn check_nesting(steps: &[AugSpec]) -> Result<()> {
    let depth = spec_depth(steps);
    if depth > MAX_NESTING {
        return Err(nesting_error(depth));
    }
    Ok(())
}

/// Drops `steps` without recursion (the derived drop of a spec nested 100,000 deep would
/// overflow the stack): each container's steps are moved onto a work list first.
fn drop_flat(steps: Vec<AugSpec>) {
    let mut work = steps;
    while let Some(spec) = work.pop() {
        if let AugSpec::Sequential(mut c) = spec {
            work.append(&mut c.steps);
        }
    }
}

fn nesting_error(depth: usize) -> Error {
    crate::checks::config(
        SEQ,
        "steps",
        format!("containers nested {depth} deep"),
        format!("at most {MAX_NESTING} nested containers"),
    )
}

impl Sequential {
    /// Builds each step under `path / i` (`path`: `&path` or `path / "name"`, as tch's
    /// layers take it). `cfg` is a [`SequentialConfig`] or just the steps (a slice, array or
    /// `Vec` of [`AugSpec`]).
    ///
    /// # Errors
    /// The first config validation error; [`Error::Config`] for bad container options or
    /// steps that mix images (2D) and volumes (3D).
    pub fn new<'p, P: Borrow<nn::Path<'p>>>(
        path: P,
        cfg: impl Into<SequentialConfig>,
    ) -> Result<Sequential> {
        let path = path.borrow();
        let mut cfg = cfg.into();
        if let Err(e) = check_nesting(&cfg.steps) {
            drop_flat(std::mem::take(&mut cfg.steps));
            return Err(e);
        }
        if let Some(v) = cfg.same_on_batch {
            cfg.steps = cfg.steps.iter().map(|s| s.with_same_on_batch(v)).collect();
        }
        let steps = cfg
            .steps
            .iter()
            .enumerate()
            .map(|(i, s)| s.build(&(path / i.to_string())))
            .collect::<Result<Vec<_>>>()?;
        Sequential::check(&cfg, &steps)?;
        Ok(Sequential { cfg, steps })
    }

    /// A pipeline of already built steps, a user's own augmentations included, with the
    /// options of `cfg` (whose `steps` are ignored and replaced by the steps' specs).
    ///
    /// # Errors
    /// As [`Sequential::new`].
    pub fn from_steps(
        steps: Vec<Box<dyn Augmentation>>,
        cfg: SequentialConfig,
    ) -> Result<Sequential> {
        let depth = 1 + steps.iter().map(|s| s.nesting_depth()).max().unwrap_or(0);
        if depth > MAX_NESTING {
            return Err(nesting_error(depth));
        }
        let cfg = SequentialConfig {
            steps: steps.iter().map(|s| s.spec()).collect(),
            ..cfg
        };
        Sequential::check(&cfg, &steps)?;
        Ok(Sequential { cfg, steps })
    }

    fn check(cfg: &SequentialConfig, steps: &[Box<dyn Augmentation>]) -> Result<()> {
        if let Some(first) = steps.first() {
            if let Some(other) = steps
                .iter()
                .find(|s| s.spatial_dims() != first.spatial_dims())
            {
                return Err(crate::checks::config(
                    SEQ,
                    "steps",
                    format!(
                        "{} ({}D) after {} ({}D)",
                        other.name(),
                        other.spatial_dims(),
                        first.name(),
                        first.spatial_dims()
                    ),
                    "steps that all take images (2D) or all take volumes (3D)",
                ));
            }
        }
        let n = steps.len() as i64;
        let bad =
            |v: String, allowed: &str| Err(crate::checks::config(SEQ, "random_apply", v, allowed));
        match cfg.random_apply {
            RandomApply::Exactly(k) if !(0..=MAX_APPLIED).contains(&k) => {
                return bad(
                    format!("Exactly({k})"),
                    &format!("a count in [0, {MAX_APPLIED}]"),
                );
            }
            RandomApply::Between(a, b) if a < 0 || b < a || b > MAX_APPLIED => {
                return bad(
                    format!("Between({a}, {b})"),
                    &format!("0 <= lo <= hi <= {MAX_APPLIED}"),
                );
            }
            RandomApply::AtLeast(a) if a < 0 || a > n => {
                return bad(format!("AtLeast({a})"), "0 <= lo <= the number of steps");
            }
            _ => {}
        }
        if let Some(w) = &cfg.random_apply_weights {
            // As float32, the kind they are drawn with: each finite, and a positive sum.
            let finite = w.iter().all(|&v| v >= 0.0 && crate::checks::f32_finite(v));
            let sum: f32 = w.iter().map(|&v| v as f32).sum();
            if w.len() != steps.len() || !finite || !(sum > 0.0 && sum.is_finite()) {
                return Err(crate::checks::config(
                    SEQ,
                    "random_apply_weights",
                    format!("{w:?}"),
                    format!(
                        "{} finite weights >= 0 (as float32), one per step, with a positive finite sum",
                        steps.len()
                    ),
                ));
            }
        }
        if let Some(keys) = &cfg.data_keys {
            keyed::check_data_keys(keys)?;
        }
        cfg.annotations.validate(SEQ)
    }

    /// Rebuilds a pipeline from [`Sequential::to_json`]'s output.
    ///
    /// # Errors
    /// [`crate::Error::Json`] for malformed JSON, or a config validation error.
    pub fn from_json<'p, P: Borrow<nn::Path<'p>>>(path: P, json: &str) -> Result<Sequential> {
        let cfg: SequentialConfig = serde_json::from_str(json)?;
        Sequential::new(path, cfg)
    }

    /// Saves structure and state in one file (safetensors for a `.safetensors` extension,
    /// else tch's format): the JSON of [`Sequential::to_json`] and every range's current
    /// values (learned ones as drawn: ordered, clamped to their domain), by position so
    /// that [`Sequential::f_load`] can rebuild it under any path.
    ///
    /// # Errors
    /// [`crate::Error::Torch`] or [`crate::Error::Io`] when the file cannot be written.
    pub fn f_save(&self, file: impl AsRef<std::path::Path>) -> Result<()> {
        crate::state::save_pipeline(self, file.as_ref())
    }

    /// Rebuilds a pipeline saved by [`Sequential::f_save`] under `path`, with its ranges'
    /// saved values. The file is checked in full first (structure, every range present,
    /// nothing else, floating point, finite, fixed ranges equal to the structure's,
    /// learnable ones inside their domain with `lo <= hi`); on `Err` no variable has been
    /// added to `path`'s `VarStore`.
    ///
    /// # Errors
    /// [`crate::Error::State`], [`crate::Error::Json`] or a config error for a bad file;
    /// [`crate::Error::Torch`] or [`crate::Error::Io`] for one that cannot be read.
    pub fn f_load<'p, P: Borrow<nn::Path<'p>>>(
        path: P,
        file: impl AsRef<std::path::Path>,
    ) -> Result<Sequential> {
        crate::state::load_pipeline(path.borrow(), file.as_ref())
    }

    /// The pipeline's structure as JSON: a list of [`AugSpec`], or an object with `steps`
    /// when an option is set.
    ///
    /// # Errors
    /// [`crate::Error::Json`] (not expected for these types).
    pub fn to_json(&self) -> Result<String> {
        Ok(serde_json::to_string_pretty(&self.config())?)
    }

    /// The configuration, with the steps' current specs.
    pub fn config(&self) -> SequentialConfig {
        SequentialConfig {
            steps: self.specs(),
            ..self.cfg.clone()
        }
    }

    /// The specs of the steps.
    pub fn specs(&self) -> Vec<AugSpec> {
        self.steps.iter().map(|s| s.spec()).collect()
    }

    /// The steps.
    pub fn steps(&self) -> &[Box<dyn Augmentation>] {
        &self.steps
    }

    /// The applied steps' indices for `params` (all, in order, without `selection`).
    fn sequence(&self, params: &Params) -> Result<Vec<usize>> {
        match params.get("selection") {
            None if self.cfg.random_apply == RandomApply::Off => {
                Ok((0..self.steps.len()).collect())
            }
            None => Err(Error::Params {
                op: SEQ,
                key: "selection".into(),
                problem:
                    "is missing; a container with random_apply records the applied steps there"
                        .into(),
            }),
            Some(t) => {
                let v = Vec::<i64>::try_from(
                    t.to_device(Device::Cpu).to_kind(Kind::Int64).reshape([-1]),
                )
                .map_err(Error::from)?;
                v.iter()
                    .map(|&i| {
                        if i >= 0 && (i as usize) < self.steps.len() {
                            Ok(i as usize)
                        } else {
                            Err(Error::Params {
                                op: SEQ,
                                key: "selection".into(),
                                problem: format!(
                                    "holds step {i}; the container has {} steps",
                                    self.steps.len()
                                ),
                            })
                        }
                    })
                    .collect()
            }
        }
    }

    /// Kornia's selection of steps for one call (`get_random_forward_sequence`): a count
    /// from `randint`, the steps by `multinomial` over the weights (mixing steps weigh 0),
    /// then possibly a mixing step in place of the last, all on torch's CPU generator.
    fn draw_selection(&self) -> Result<Option<Vec<usize>>> {
        let n = self.steps.len() as i64;
        // Counts are at most MAX_APPLIED (checked at construction), so `+ 1` cannot overflow.
        let (lo, hi) = match self.cfg.random_apply {
            RandomApply::Off => return Ok(None),
            RandomApply::All => (n, n + 1),
            RandomApply::Exactly(k) => (k, k + 1),
            RandomApply::Between(a, b) => (a, b + 1),
            RandomApply::AtLeast(a) => (a, n + 1),
        };
        let cpu = (Kind::Int64, Device::Cpu);
        let count = crate::rng::randint(lo, hi, &[1], cpu)?.int64_value(&[0]);
        let weights: Vec<f32> = match &self.cfg.random_apply_weights {
            Some(w) => w.iter().map(|&v| v as f32).collect(),
            None => vec![1.0; self.steps.len()],
        };
        let mix: Vec<usize> = (0..self.steps.len())
            .filter(|&i| self.steps[i].as_mix().is_some())
            .collect();
        let mut w = weights.clone();
        for &i in &mix {
            w[i] = 0.0;
        }
        let total: f64 = w.iter().map(|&v| v as f64).sum();
        let nonzero = w.iter().filter(|&&v| v != 0.0).count() as i64;
        let mix_place = i64::from(!mix.is_empty() && mix.len() as i64 + count >= n);
        let mut idx: Vec<i64> = if total == 0.0 || count == 0 || n == 0 {
            Vec::new()
        } else {
            let replacement = count as f64 > total || count > nonzero + mix_place;
            let picked = crate::rng::multinomial(&Tensor::from_slice(&w), count, replacement)?;
            Vec::<i64>::try_from(picked).unwrap_or_default()
        };
        if count > 0 && !mix.is_empty() {
            let u = crate::rng::rand(&[1], (Kind::Float, Device::Cpu))?.double_value(&[0]);
            if u < (mix.len() + idx.len()) as f64 / n as f64 {
                let mut mask = vec![0.0f32; self.steps.len()];
                for &i in &mix {
                    mask[i] = 1.0;
                }
                let m = crate::rng::multinomial(&Tensor::from_slice(&mask), 1, false)?
                    .int64_value(&[0]);
                match idx.last_mut() {
                    Some(last) => *last = m,
                    None => idx.push(m),
                }
                let perm = crate::rng::randperm(idx.len() as i64, cpu)?;
                let perm = Vec::<i64>::try_from(perm).unwrap_or_default();
                idx = perm.iter().map(|&p| idx[p as usize]).collect();
            }
        }
        Ok(Some(idx.into_iter().map(|i| i as usize).collect()))
    }

    /// One draw: the selection of steps (with [`RandomApply`]), then each applied step's
    /// params from `draw(index of the step, step, shape entering it)`, which returns them for
    /// that shape (a [`VideoSequential`] draws per clip and repeats over the frames).
    fn sample_steps(&self, shape: &[i64], draw: &mut StepDraw<'_>) -> Result<Params> {
        let mut params = Params::new();
        let seq = match self.draw_selection()? {
            Some(sel) => {
                let ids: Vec<i64> = sel.iter().map(|&i| i as i64).collect();
                params.insert("selection", Tensor::from_slice(&ids));
                sel
            }
            None => (0..self.steps.len()).collect(),
        };
        let mut sh = shape.to_vec();
        for (pos, &i) in seq.iter().enumerate() {
            let step = self.steps[i].as_ref();
            step.check_shape(&sh)?;
            let p = draw(i, step, &sh)?;
            sh = step.drawn_output_shape(&sh, &p);
            params.extend_prefixed(&pos.to_string(), &p);
        }
        Ok(params)
    }

    /// The shapes entering each applied step, and the final one.
    fn shapes(&self, shape: &[i64], seq: &[usize], params: &Params) -> Vec<Vec<i64>> {
        let mut out = vec![shape.to_vec()];
        for (pos, &i) in seq.iter().enumerate() {
            let sub = params.sub(&pos.to_string());
            let next = self.steps[i].drawn_output_shape(out.last().expect("non-empty"), &sub);
            out.push(next);
        }
        out
    }

    /// The runs of `seq` positions: single steps, and the maximal runs `[start, end)` that
    /// fuse into one warp (`fuse_geometry`) or one colour pass (`fuse_color`).
    fn runs(&self, seq: &[usize]) -> Vec<Run> {
        let mut runs = Vec::new();
        let mut pos = 0;
        let run_of = |pos: usize, pred: &dyn Fn(&dyn Augmentation) -> bool| {
            let mut end = pos;
            while end < seq.len() && pred(self.steps[seq[end]].as_ref()) {
                end += 1;
            }
            end
        };
        while pos < seq.len() {
            let warps = if self.cfg.fuse_geometry {
                run_of(pos, &|s| s.sampling().is_some())
            } else {
                pos
            };
            let colours = if self.cfg.fuse_color {
                run_of(pos, &|s| s.fuses_color())
            } else {
                pos
            };
            let run = if warps > pos + 1 {
                Run::Warp(pos, warps)
            } else if colours > pos {
                Run::Color(pos, colours)
            } else {
                Run::Single(pos)
            };
            pos = match run {
                Run::Warp(_, end) | Run::Color(_, end) => end,
                Run::Single(p) => p + 1,
            };
            runs.push(run);
        }
        runs
    }
}

/// How a pipeline draws one step's params for the shape entering it.
type StepDraw<'a> = dyn FnMut(usize, &dyn Augmentation, &[i64]) -> Result<Params> + 'a;

/// A run of a pipeline's applied steps (positions in the sequence).
#[derive(Debug, Clone, Copy)]
enum Run {
    /// One step on its own.
    Single(usize),
    /// `[start, end)`: one warp by the product of the matrices.
    Warp(usize, usize),
    /// `[start, end)`: one fused colour pass.
    Color(usize, usize),
}

/// Spatial (H, W) of a shape (the last two sizes).
fn hw(shape: &[i64]) -> (i64, i64) {
    let n = shape.len();
    (shape[n - 2], shape[n - 1])
}

impl Augmentation for Sequential {
    fn name(&self) -> &'static str {
        SEQ
    }

    fn kornia_name(&self) -> &'static str {
        "AugmentationSequential"
    }

    fn role(&self) -> Role<'_> {
        Role::container(self)
    }

    fn ranges(&self) -> Vec<&Range> {
        self.steps.iter().flat_map(|s| s.ranges()).collect()
    }

    fn spec(&self) -> AugSpec {
        AugSpec::Sequential(self.config())
    }

    fn spatial_dims(&self) -> usize {
        self.steps.first().map_or(2, |s| s.spatial_dims())
    }

    fn accepts_uint8(&self) -> bool {
        true
    }

    fn is_random(&self) -> bool {
        self.cfg.random_apply != RandomApply::Off || self.steps.iter().any(|s| s.is_random())
    }

    /// With every step applied (a random selection may differ, and a step whose size is
    /// drawn gives its input's; see `output_shape_for`).
    fn output_shape(&self, shape: &[i64]) -> Vec<i64> {
        let mut s = shape.to_vec();
        for step in &self.steps {
            s = step.output_shape(&s);
        }
        s
    }

    fn check_shape(&self, shape: &[i64]) -> Result<()> {
        if self.cfg.random_apply != RandomApply::Off {
            // The sequence is not known yet; each step is checked again when applied.
            return Ok(());
        }
        let mut s = shape.to_vec();
        for step in &self.steps {
            step.check_shape(&s)?;
            if step.output_size_drawn() {
                // The size after it is drawn: the steps after it are checked as drawn.
                break;
            }
            s = step.output_shape(&s);
        }
        Ok(())
    }

    fn sample(&self, shape: &[i64], device: Device) -> Result<Params> {
        self.sample_steps(shape, &mut |_, step, sh| step.sample(sh, device))
    }

    fn apply_transform(&self, input: &Tensor, params: &Params) -> Result<Tensor> {
        if self.sequence(params)?.is_empty() {
            // No step: a copy, so that writing into the output never writes into the input.
            return crate::ops::fresh_copy(input);
        }
        let w = Record::image_only(input.shallow_clone());
        Ok(self.apply_record(w, params, &self.cfg.annotations)?.image)
    }

    fn geometry_ungated(
        &self,
        shape: &[i64],
        params: &Params,
        kind: Kind,
        device: Device,
    ) -> Result<Geometry> {
        let seq = self.sequence(params)?;
        let shapes = self.shapes(shape, &seq, params);
        let mut total = Geometry::None;
        for (pos, &i) in seq.iter().enumerate() {
            let sub = params.sub(&pos.to_string());
            let g = gated_geometry(self.steps[i].as_ref(), &shapes[pos], &sub, kind, device)?;
            total = total.then(&g, hw(shape), hw(&shapes[pos + 1]));
        }
        if matches!(total, Geometry::None) {
            return Ok(Geometry::Matrix(Transform::identity(
                shape[0],
                self.spatial_dims(),
                kind,
                device,
            )));
        }
        Ok(total)
    }

    fn inverse_transform(
        &self,
        output: &Tensor,
        params: &Params,
        input_shape: &[i64],
    ) -> Result<Tensor> {
        let w = Record::image_only(output.shallow_clone());
        let opts = self.cfg.annotations.clone();
        Ok(self.inverse_record(w, params, input_shape, &opts)?.image)
    }

    /// Step by step (a fused run resamples masks once only on the record path,
    /// [`AugmentationExt::f_forward_batch`]).
    fn apply_mask(&self, mask: &Tensor, params: &Params, how: &MaskSampling) -> Result<Tensor> {
        let seq = self.sequence(params)?;
        let mut m = mask.shallow_clone();
        for (pos, &i) in seq.iter().enumerate() {
            m = gated_mask(
                &*self.steps[i],
                &m,
                &params.sub(&pos.to_string()),
                how,
                None,
            )?;
        }
        Ok(m)
    }

    fn inverse_mask(
        &self,
        mask: &Tensor,
        params: &Params,
        input_shape: &[i64],
        how: &MaskSampling,
    ) -> Result<Tensor> {
        let seq = self.sequence(params)?;
        let shapes = self.shapes(input_shape, &seq, params);
        let mut m = mask.shallow_clone();
        for (pos, &i) in seq.iter().enumerate().rev() {
            let sub = params.sub(&pos.to_string());
            m = gated_mask(&*self.steps[i], &m, &sub, how, Some(&shapes[pos]))?;
        }
        Ok(m)
    }
}

impl Container for Sequential {
    fn depth(&self) -> usize {
        1 + self
            .steps
            .iter()
            .map(|s| s.nesting_depth())
            .max()
            .unwrap_or(0)
    }

    fn forward_eval(&self, input: &Tensor) -> Result<Tensor> {
        // Nothing random: the training forward itself (the fast mode fused as in training).
        if !self.is_random() {
            return self.f_forward(input);
        }
        // Checked and converted (uint8 to float32) as the training forward does; each step
        // that applies checks its own input, and runs on its own (unfused).
        let b = crate::augmentation::batched(self, input)?;
        let mut x = b.x.shallow_clone();
        for step in &self.steps {
            x = step.f_forward_eval(&x)?;
        }
        Ok(b.restore(x))
    }

    fn steps_output_shape(&self, shape: &[i64], params: &Params) -> Vec<i64> {
        match self.sequence(params) {
            Ok(seq) => self.shapes(shape, &seq, params).pop().expect("non-empty"),
            Err(_) => self.output_shape(shape),
        }
    }

    fn options(&self) -> AnnotationOptions {
        self.cfg.annotations.clone()
    }

    fn apply_steps(
        &self,
        mut w: Record,
        params: &Params,
        opts: &AnnotationOptions,
    ) -> Result<Record> {
        let seq = self.sequence(params)?;
        for run in self.runs(&seq) {
            match run {
                Run::Single(pos) => {
                    let step = &self.steps[seq[pos]];
                    step.check_shape(&w.image.size())?;
                    w = step.apply_record(w, &params.sub(&pos.to_string()), opts)?;
                }
                Run::Warp(start, end) => {
                    w = self.apply_fused(w, &seq, start, end, params, opts)?;
                }
                Run::Color(start, end) => {
                    // Colour steps leave masks, boxes, keypoints and labels as they are.
                    let steps: Vec<(&dyn Augmentation, Params)> = (start..end)
                        .map(|pos| (self.steps[seq[pos]].as_ref(), params.sub(&pos.to_string())))
                        .collect();
                    w.image = color::apply_color_run(&steps, w.image)?;
                }
            }
        }
        Ok(w)
    }

    fn inverse_steps(
        &self,
        mut w: Record,
        params: &Params,
        input_shape: &[i64],
        opts: &AnnotationOptions,
    ) -> Result<Record> {
        let seq = self.sequence(params)?;
        let shapes = self.shapes(input_shape, &seq, params);
        for (pos, &i) in seq.iter().enumerate().rev() {
            let sub = params.sub(&pos.to_string());
            w = self.steps[i].inverse_record(w, &sub, &shapes[pos], opts)?;
        }
        Ok(w)
    }
}

impl Sequential {
    /// Applies the steps at positions `start..end` of `seq` (all with a matrix and a
    /// sampling) as one warp by the product of their gated matrices.
    fn apply_fused(
        &self,
        mut w: Record,
        seq: &[usize],
        start: usize,
        end: usize,
        params: &Params,
        opts: &AnnotationOptions,
    ) -> Result<Record> {
        let (kind, device) = (w.image.kind(), w.image.device());
        let point_kind = w.point_kind();
        let mut shape = w.image.size();
        let mut total: Option<Transform> = None;
        let mut outlines = w.outlines.take();
        let mut keypoints = w.keypoints.take();
        for (pos, &i) in seq.iter().enumerate().take(end).skip(start) {
            let step = &self.steps[i];
            let sub = params.sub(&pos.to_string());
            step.check_shape(&shape)?;
            let t = gated_transform(step.as_ref(), &shape, &sub, kind, device)?;
            if outlines.is_some() || keypoints.is_some() {
                let g = Geometry::Matrix(gated_transform(
                    step.as_ref(),
                    &shape,
                    &sub,
                    point_kind,
                    device,
                )?);
                w.map_visible(&g);
                (outlines, keypoints) =
                    crate::augmentation::map_working_points(&g, outlines, keypoints, opts);
            }
            total = Some(match total {
                None => t,
                Some(a) => a.then(&t),
            });
            shape = step.drawn_output_shape(&shape, &sub);
        }
        let total = total.expect("a run has steps");
        let first = self.steps[seq[start]].sampling().unwrap_or_default();
        let out = warp::spatial(&shape);
        let image = warp::warp(&w.image, &total, out, &first)?;
        let masks = match &w.masks {
            Some(m) => {
                let how = opts.mask_sampling();
                let s: Sampling = mask_sampling(Some(first.clone()), &how);
                Some(warp::warp(m, &total, out, &s)?)
            }
            None => None,
        };
        // One warp, one clip: what left an intermediate frame is still in the image.
        w.keypoints = keypoints;
        if w.visible.is_some() || w.keypoints_inside.is_some() {
            w.clip_visible(&shape);
        }
        Ok(Record {
            image,
            masks,
            outlines,
            keypoints: w.keypoints,
            labels: w.labels,
            mixed: w.mixed,
            visible: w.visible,
            keypoints_inside: w.keypoints_inside,
            oriented: w.oriented,
            box_source: w.box_source,
        })
    }
}

crate::augmentation::impl_module!(Sequential);
