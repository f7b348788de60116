//! Kornia's `PatchSequential`: images cut into a grid of patches, the patches augmented (all
//! by one pipeline, or each grid location by its own step or its own random selection), and
//! put back together.
//!
//! The patches of a batch are one batch of images (B·N,C,h,w) in row-major grid order, so
//! a step runs once over all the patches it applies to, whatever their number.

use super::kornia_args as args;
use super::{RandomApply, Sequential, SequentialConfig};
use crate::annotations::Batch;
use crate::augmentation::{AugmentationExt, RoleKind, Step};
use crate::geometry::Geometry;
use crate::{Augmentation, Error, Params, Result};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::borrow::Borrow;
use tch::{nn, Device, Kind, Tensor};

const PATCH: &str = "PatchSequential";

/// How a [`PatchSequential`] fits the grid to an image whose sides it does not divide.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PatchPadding {
    /// Zero-pad to a multiple of the grid (centred, an odd pixel at the right or bottom)
    /// and remove the padding afterwards: the output has the input's size (the default).
    #[default]
    Same,
    /// Crop the remainder (centred likewise): the output is the cropped size.
    Valid,
}

fn yes() -> bool {
    true
}

/// Configuration of a [`PatchSequential`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatchConfig {
    /// The steps, and their selection: with `patchwise_apply` and no [`RandomApply`], one
    /// step per grid location (row-major); with a selection, each location draws its own
    /// (Kornia's `random_apply=True` is `Between(1, 4)` there). Without `patchwise_apply`,
    /// the pipeline every patch goes through.
    pub pipeline: SequentialConfig,
    /// (rows, columns) of patches, each at least 1.
    pub grid_size: (i64, i64),
    /// How the grid fits sides it does not divide.
    #[serde(default)]
    pub padding: PatchPadding,
    /// Steps per grid location (the default, as Kornia), or one pipeline for every patch.
    #[serde(default = "yes")]
    pub patchwise_apply: bool,
}

impl PatchConfig {
    /// `pipeline` over every patch of a `grid_size` grid (`patchwise_apply = false`).
    pub fn sequence(pipeline: impl Into<SequentialConfig>, grid_size: (i64, i64)) -> PatchConfig {
        PatchConfig {
            pipeline: pipeline.into(),
            grid_size,
            padding: PatchPadding::Same,
            patchwise_apply: false,
        }
    }

    /// One step per grid location, row-major (`patchwise_apply = true`).
    pub fn located(steps: impl Into<SequentialConfig>, grid_size: (i64, i64)) -> PatchConfig {
        PatchConfig {
            patchwise_apply: true,
            ..PatchConfig::sequence(steps, grid_size)
        }
    }

    /// With `padding`.
    pub fn padding(self, padding: PatchPadding) -> PatchConfig {
        PatchConfig { padding, ..self }
    }

    /// The config of Kornia 0.9's `PatchSequential(**kwargs)`: its steps as `steps`
    /// (`[[class, kwargs], ...]`), `grid_size`, `padding` ("same" or "valid"),
    /// `patchwise_apply`, `random_apply`, `random_apply_weights`, `same_on_batch` and
    /// `keepdim` (no effect here: shapes come back as given).
    ///
    /// # Errors
    /// [`Error::Config`] for an argument Kornia's `PatchSequential` does not take (naming
    /// the ones it does) or a value of the wrong form; a step's translation error.
    pub fn from_kornia(kwargs: &Value) -> Result<PatchConfig> {
        const ARGS: [&str; 8] = [
            "steps",
            "grid_size",
            "padding",
            "same_on_batch",
            "keepdim",
            "patchwise_apply",
            "random_apply",
            "random_apply_weights",
        ];
        let mut map = args::kwargs(PATCH, kwargs, &ARGS)?;
        let grid_size = match map.remove("grid_size") {
            None | Some(Value::Null) => (4, 4),
            Some(Value::Array(a)) if a.len() == 2 && a.iter().all(|v| v.as_i64().is_some()) => {
                (a[0].as_i64().unwrap_or(0), a[1].as_i64().unwrap_or(0))
            }
            Some(v) => return Err(args::bad(PATCH, "grid_size", &v, "(rows, columns)")),
        };
        let padding = match map.remove("padding") {
            None | Some(Value::Null) => PatchPadding::Same,
            Some(Value::String(s)) if s == "same" => PatchPadding::Same,
            Some(Value::String(s)) if s == "valid" => PatchPadding::Valid,
            Some(v) => return Err(args::bad(PATCH, "padding", &v, "\"same\" or \"valid\"")),
        };
        let patchwise_apply = args::flag(PATCH, &mut map, "patchwise_apply", true)?;
        match map.get("random_apply") {
            Some(v) if patchwise_apply && !matches!(v, Value::Bool(_)) => {
                return Err(args::bad(
                    PATCH,
                    "random_apply",
                    v,
                    "true or false with patchwise_apply (as Kornia)",
                ))
            }
            _ => {}
        }
        let mut pipeline = args::image_sequential(map)?;
        if patchwise_apply && pipeline.random_apply == RandomApply::All {
            // Kornia: "will only apply [1, 4] augmentations per patch".
            pipeline.random_apply = RandomApply::Between(1, 4);
        }
        Ok(PatchConfig {
            pipeline,
            grid_size,
            padding,
            patchwise_apply,
        })
    }

    /// [`PatchConfig::from_kornia`] of a call written as in Python:
    /// `K.PatchSequential(K.ColorJiggle(0.1, 0.1, 0.1, 0.1), K.RandomAffine(15.0),
    /// grid_size=(2, 2), patchwise_apply=False)`.
    ///
    /// # Errors
    /// As [`crate::AugSpec::from_kornia_python`] for the source; [`Error::Config`] for a call of
    /// another class; then as [`PatchConfig::from_kornia`].
    pub fn from_kornia_python(source: &str) -> Result<PatchConfig> {
        PatchConfig::from_kornia(&args::python(PATCH, source)?)
    }
}

/// Kornia's `PatchSequential`: each image cut into a `grid_size` grid of patches (after
/// padding or cropping to a multiple of it), the patches augmented, and the image put back
/// together.
///
/// Three ways to augment the patches, as Kornia's:
/// - `patchwise_apply = false`: one pipeline (its selection drawn once) over every patch,
///   each patch drawing its own params;
/// - `patchwise_apply` without a selection: step `g` on the patches at grid location `g`
///   (row-major; as many steps as locations), drawn per image;
/// - `patchwise_apply` with a selection: each location draws its own selection, its steps
///   drawn per image; with the container's `same_on_batch`, as Kornia's branch that
///   draws per location. (Kornia's per-patch selections without `same_on_batch` draw one
///   sequence per patch in a loop; they are refused here.)
///
/// The params group what each location draws: group `g` (`0` without `patchwise_apply`) is
/// a pipeline's params under `"{g}."` (the `k`-th applied step under `"{g}.{k}."`, a
/// selection under `"{g}.selection"`); the same seed draws Kornia's. Steps must keep the
/// patch size; mixing steps are refused. As in Kornia, only pipelines without geometric
/// steps invert (the identity) and carry masks, boxes and keypoints (cropped with the image
/// under [`PatchPadding::Valid`]).
///
/// # Example
/// ```
/// use tch_dda::{AugSpec, FlipConfig, PatchConfig, PatchSequential};
/// let vs = tch::nn::VarStore::new(tch::Device::Cpu);
/// let flip = AugSpec::RandomHorizontalFlip(FlipConfig::default());
/// let patches = PatchSequential::new(vs.root(), PatchConfig::sequence(vec![flip], (2, 3)))?;
/// let x = tch::Tensor::rand([4, 3, 10, 12], tch::kind::FLOAT_CPU);
/// let (out, params) = patches.f_forward_with_params(&x)?;
/// assert_eq!(out.size(), [4, 3, 10, 12]);
/// assert_eq!(params.get("0.0.batch_prob").unwrap().size(), [24]); // one gate per patch
/// # Ok::<(), tch_dda::Error>(())
/// ```
#[derive(Debug)]
pub struct PatchSequential {
    pipeline: Sequential,
    grid: (i64, i64),
    padding: PatchPadding,
    patchwise: bool,
    /// Whether the pipeline draws a selection of its steps (`random_apply`).
    random: bool,
}

/// The geometry of one call: the padding (negative: cropped) and the patches' shape.
struct Cut {
    /// (left, right, top, bottom).
    pad: [i64; 4],
    b: i64,
    /// One patch batch: (B·N, C, h, w) without `patchwise_apply`, else (B, C, h, w).
    patches: Vec<i64>,
    /// (B, C, h, w) of one patch per image.
    patch: Vec<i64>,
}

impl PatchSequential {
    /// Builds the pipeline under `path` (its steps under `path / i`, as a [`Sequential`]).
    ///
    /// # Errors
    /// As [`Sequential::new`]; then as [`PatchSequential::from_pipeline`].
    pub fn new<'p, P: Borrow<nn::Path<'p>>>(path: P, cfg: PatchConfig) -> Result<PatchSequential> {
        let pipeline = Sequential::new(path, cfg.pipeline)?;
        PatchSequential::from_pipeline(pipeline, cfg.grid_size, cfg.padding, cfg.patchwise_apply)
    }

    /// The patch version of an already built `pipeline`.
    ///
    /// # Errors
    /// [`Error::Config`] for a grid size below 1, a pipeline of volumes, a mixing step,
    /// `patchwise_apply` without a selection and with another number of steps than grid
    /// locations, or with a selection and without the container's `same_on_batch`.
    pub fn from_pipeline(
        pipeline: Sequential,
        grid_size: (i64, i64),
        padding: PatchPadding,
        patchwise_apply: bool,
    ) -> Result<PatchSequential> {
        let refuse = |name: &'static str, value: String, allowed: &str| {
            Err(crate::checks::config(PATCH, name, value, allowed))
        };
        let (rows, cols) = grid_size;
        if rows < 1 || cols < 1 || rows.checked_mul(cols).is_none_or(|n| n > 1 << 20) {
            return refuse(
                "grid_size",
                format!("{grid_size:?}"),
                "(rows, columns), each at least 1, at most 2^20 patches",
            );
        }
        if pipeline.spatial_dims() != 2 {
            return refuse(
                "steps",
                format!("steps for volumes ({}D)", pipeline.spatial_dims()),
                "steps that take images: each patch is an image",
            );
        }
        if let Some(mix) = pipeline.steps().iter().find(|s| s.as_mix().is_some()) {
            return refuse(
                "steps",
                mix.name().to_string(),
                "steps that do not mix samples: a mixing step would pair patches",
            );
        }
        let cfg = pipeline.config();
        if patchwise_apply {
            let n = rows * cols;
            if cfg.random_apply == RandomApply::Off && pipeline.steps().len() as i64 != n {
                return refuse(
                    "steps",
                    format!("{} steps for {n} grid locations", pipeline.steps().len()),
                    "one step per grid location with patchwise_apply (or a random_apply, or \
                     patchwise_apply = false)",
                );
            }
            if cfg.random_apply != RandomApply::Off && cfg.same_on_batch != Some(true) {
                return refuse(
                    "same_on_batch",
                    format!(
                        "{:?} with patchwise_apply and random_apply",
                        cfg.same_on_batch
                    ),
                    "Some(true): one selection per grid location (Kornia's other branch draws \
                     one per patch in a loop, not done here); or patchwise_apply = false",
                );
            }
        }
        Ok(PatchSequential {
            random: cfg.random_apply != RandomApply::Off,
            pipeline,
            grid: grid_size,
            padding,
            patchwise: patchwise_apply,
        })
    }

    /// Rebuilds a patch pipeline from [`PatchSequential::to_json`]'s output.
    ///
    /// # Errors
    /// [`Error::Json`] for malformed JSON; as [`PatchSequential::new`].
    pub fn from_json<'p, P: Borrow<nn::Path<'p>>>(path: P, json: &str) -> Result<PatchSequential> {
        let cfg: PatchConfig = serde_json::from_str(json)?;
        PatchSequential::new(path, cfg)
    }

    /// The structure as JSON.
    ///
    /// # Errors
    /// [`Error::Json`] (not expected for these types).
    pub fn to_json(&self) -> Result<String> {
        Ok(serde_json::to_string_pretty(&self.config())?)
    }

    /// The configuration, with the steps' current specs.
    pub fn config(&self) -> PatchConfig {
        PatchConfig {
            pipeline: self.pipeline.config(),
            grid_size: self.grid,
            padding: self.padding,
            patchwise_apply: self.patchwise,
        }
    }

    /// The steps' pipeline (its ranges are this container's).
    pub fn pipeline(&self) -> &Sequential {
        &self.pipeline
    }

    /// Draws params for images of shape `input_shape` ((B,C,H,W) or (C,H,W)).
    ///
    /// # Errors
    /// [`Error::Rank`], [`Error::Empty`], [`Error::TooLarge`] or [`Error::Size`] (a grid
    /// finer than a `Valid` crop allows) for the shape; a step's shape error for the patches.
    pub fn f_sample(&self, input_shape: &[i64], device: Device) -> Result<Params> {
        let shape = crate::augmentation::batched_shape(&self.pipeline, input_shape)?;
        let cut = self.cut(&shape)?;
        self.draw(&cut, device)
    }

    /// Validates `input`, draws params, and applies them.
    ///
    /// # Errors
    /// As [`PatchSequential::f_sample`]; [`Error::Dtype`] for an integer input other than
    /// uint8 (read as `x / 255`).
    pub fn f_forward_with_params(&self, input: &Tensor) -> Result<(Tensor, Params)> {
        let (x, unbatched) = self.image(input)?;
        let cut = self.cut(&x.size())?;
        let params = self.draw(&cut, x.device())?;
        let out = self.run(&x, &cut, &params, false)?;
        Ok((restore(out, unbatched), params))
    }

    /// [`PatchSequential::f_forward_with_params`], the output only.
    ///
    /// # Errors
    /// As [`PatchSequential::f_forward_with_params`].
    pub fn f_forward(&self, input: &Tensor) -> Result<Tensor> {
        Ok(self.f_forward_with_params(input)?.0)
    }

    /// The evaluation forward: the deterministic steps only, on their patches.
    ///
    /// # Errors
    /// As [`PatchSequential::f_forward`].
    pub fn f_forward_eval(&self, input: &Tensor) -> Result<Tensor> {
        let (x, unbatched) = self.image(input)?;
        let cut = self.cut(&x.size())?;
        let out = self.run(&x, &cut, &Params::new(), true)?;
        Ok(restore(out, unbatched))
    }

    /// Replays `params` on `input`.
    ///
    /// # Errors
    /// As [`PatchSequential::f_forward_with_params`]; [`Error::Params`] for params that lack
    /// a group or a key, or were drawn for another batch.
    pub fn f_apply(&self, input: &Tensor, params: &Params) -> Result<Tensor> {
        let (x, unbatched) = self.image(input)?;
        let cut = self.cut(&x.size())?;
        params.check_finite(PATCH)?;
        let out = self.run(&x, &cut, params, false)?;
        crate::augmentation::check_replay_output(PATCH, &x, &out)?;
        Ok(restore(out, unbatched))
    }

    /// The inverse, as Kornia's: the output itself (a copy) when no applied step moves
    /// pixels; `input_shape` is the forward input's.
    ///
    /// # Errors
    /// [`Error::NotInvertible`] when a step moves pixels (Kornia refuses those too); as
    /// [`PatchSequential::f_sample`] for the shape.
    pub fn f_inverse(
        &self,
        output: &Tensor,
        params: &Params,
        input_shape: &[i64],
    ) -> Result<Tensor> {
        let shape = crate::augmentation::batched_shape(&self.pipeline, input_shape)?;
        let cut = self.cut(&shape)?;
        if let Some(step) = self.moving_step(&cut, params)? {
            return Err(Error::NotInvertible {
                op: PATCH,
                why: format!("{step} moves the pixels of its patches (Kornia inverts intensity-only patch pipelines only)"),
            });
        }
        crate::ops::fresh_copy(output)
    }

    /// Draws params and applies them to images with masks, boxes and keypoints, which go
    /// through unchanged (cropped or shifted with the image under [`PatchPadding::Valid`]).
    ///
    /// # Errors
    /// [`Error::Annotation`] when an applied step moves pixels (Kornia refuses annotations
    /// through those too), or for an annotation that does not fit the image; as
    /// [`PatchSequential::f_forward_with_params`].
    pub fn f_forward_batch(&self, batch: &Batch) -> Result<(Batch, Params)> {
        let (x, unbatched) = self.image(&batch.image)?;
        let cut = self.cut(&x.size())?;
        let params = self.draw(&cut, x.device())?;
        Ok((
            self.batch_with(batch, &x, unbatched, &cut, &params)?,
            params,
        ))
    }

    /// Replays `params` on images with their annotations.
    ///
    /// # Errors
    /// As [`PatchSequential::f_forward_batch`] and [`PatchSequential::f_apply`].
    pub fn f_apply_batch(&self, batch: &Batch, params: &Params) -> Result<Batch> {
        let (x, unbatched) = self.image(&batch.image)?;
        let cut = self.cut(&x.size())?;
        params.check_finite(PATCH)?;
        self.batch_with(batch, &x, unbatched, &cut, params)
    }

    fn batch_with(
        &self,
        batch: &Batch,
        x: &Tensor,
        unbatched: bool,
        cut: &Cut,
        params: &Params,
    ) -> Result<Batch> {
        if batch.boxes.is_some() || batch.keypoints.is_some() || batch.masks.is_some() {
            // The annotations must fit the image (shapes, kinds, box order), as elsewhere.
            crate::annotations::to_record(PATCH, batch, 2, false)?;
            if let Some(step) = self.moving_step(cut, params)? {
                return Err(Error::Annotation {
                    op: PATCH,
                    what: "annotations",
                    problem: format!(
                        "cannot go through {step}, which moves the pixels of each patch \
                         (Kornia refuses them too); intensity steps only"
                    ),
                });
            }
        }
        let out = restore(self.run(x, cut, params, false)?, unbatched);
        // Intensity steps leave the annotations; a Valid crop is a crop of the image.
        let [left, _, top, _] = cut.pad.map(|p| p.min(0));
        let mut record = batch.clone();
        record.image = out;
        if let Some(m) = &batch.masks {
            let h = m.size()[m.dim() - 2];
            let w = m.size()[m.dim() - 1];
            let (oh, ow) = (
                h + cut.pad[2].min(0) + cut.pad[3].min(0),
                w + cut.pad[0].min(0) + cut.pad[1].min(0),
            );
            record.masks = Some(
                m.f_narrow(-2, -top, oh.max(0))?
                    .f_narrow(-1, -left, ow.max(0))?,
            );
        }
        if left != 0 || top != 0 {
            let (l, t) = (left as f64, top as f64);
            let by = |x: &Tensor, shift: &[f64]| -> Result<Tensor> {
                let s = Tensor::from_slice(shift)
                    .to_kind(x.kind())
                    .to_device(x.device());
                Ok(x.f_add(&s)?)
            };
            if let Some(bx) = &mut record.boxes {
                // The corner moves; a width, height or centre-relative size does not.
                bx.data = by(&bx.data, &bx.format.translation(l, t))?;
                if let Some(c) = &bx.corners {
                    bx.corners = Some(by(c, &[l, t])?);
                }
            }
            if let Some(k) = &mut record.keypoints {
                k.points = by(&k.points, &[l, t])?;
            }
        }
        Ok(record)
    }

    /// A float batched image, and whether the caller gave (C,H,W).
    fn image(&self, input: &Tensor) -> Result<(Tensor, bool)> {
        let x = if input.kind() == Kind::Uint8 {
            input.f_div_scalar(255.0)?
        } else {
            input.shallow_clone()
        };
        let b = crate::checks::input(PATCH, &x, 2)?;
        crate::checks::fits(PATCH, "input", &b.x.size())?;
        Ok((b.x, b.unbatched))
    }

    /// The padding and the patch shapes for a batched image shape.
    fn cut(&self, shape: &[i64]) -> Result<Cut> {
        let (b, c, h, w) = (shape[0], shape[1], shape[2], shape[3]);
        let (rows, cols) = self.grid;
        let pad = match self.padding {
            PatchPadding::Same => {
                let (ph, pw) = ((-h).rem_euclid(rows), (-w).rem_euclid(cols));
                [pw / 2, pw - pw / 2, ph / 2, ph - ph / 2]
            }
            PatchPadding::Valid => {
                if h < rows || w < cols {
                    return Err(Error::Size {
                        op: PATCH,
                        what: "grid",
                        size: vec![rows, cols],
                        input: vec![h, w],
                        allowed: "with padding valid, at least one pixel per patch",
                    });
                }
                let (ph, pw) = (h % rows, w % cols);
                [-(pw / 2), -(pw - pw / 2), -(ph / 2), -(ph - ph / 2)]
            }
        };
        let (hh, ww) = ((h + pad[2] + pad[3]) / rows, (w + pad[0] + pad[1]) / cols);
        let n = rows * cols;
        let patch = vec![b, c, hh, ww];
        let patches = if self.patchwise {
            patch.clone()
        } else {
            vec![b * n, c, hh, ww]
        };
        Ok(Cut {
            pad,
            b,
            patches,
            patch,
        })
    }

    /// The groups: one pipeline over every patch, or one per grid location.
    fn groups(&self) -> i64 {
        if self.patchwise {
            self.grid.0 * self.grid.1
        } else {
            1
        }
    }

    /// One draw: per group, in order (Kornia's order: a location's selection, then its
    /// steps' params).
    fn draw(&self, cut: &Cut, device: Device) -> Result<Params> {
        let random = self.random;
        let mut params = Params::new();
        for g in 0..self.groups() {
            let p = if !self.patchwise || random {
                self.pipeline.f_sample(&cut.patches, device)?
            } else {
                let step = &self.pipeline.steps()[g as usize];
                let mut p = Params::new();
                p.extend_prefixed("0", &step.f_sample(&cut.patches, device)?);
                p
            };
            params.extend_prefixed(&g.to_string(), &p);
        }
        Ok(params)
    }

    /// The patches of `x` through their groups' params (or, `eval`, their deterministic
    /// steps), put back together.
    fn run(&self, x: &Tensor, cut: &Cut, params: &Params, eval: bool) -> Result<Tensor> {
        let (rows, cols) = self.grid;
        let (b, c) = (cut.b, cut.patch[1]);
        let (hh, ww) = (cut.patch[2], cut.patch[3]);
        let [l, r, t, bo] = cut.pad;
        let padded = x.f_constant_pad_nd([l, r, t, bo])?;
        // (B, C, rows, h, cols, w) -> (B, rows, cols, C, h, w): row-major patches.
        let grid = padded
            .f_reshape([b, c, rows, hh, cols, ww])?
            .f_permute([0, 2, 4, 1, 3, 5])?;
        let random = self.random;
        let through = |pipe: &dyn Augmentation, x: &Tensor, sub: &Params| -> Result<Tensor> {
            let out = if eval {
                pipe.f_forward_eval(x)?
            } else {
                params_batch(pipe, sub, x)?;
                pipe.gated_apply(x, sub)?
            };
            if out.size() != x.size() {
                return Err(Error::Size {
                    op: PATCH,
                    what: "a step's output patch",
                    size: out.size()[2..].to_vec(),
                    input: x.size()[2..].to_vec(),
                    allowed: "steps that keep the patch size",
                });
            }
            Ok(out)
        };
        let patches = if !self.patchwise {
            let flat = grid.f_reshape([b * rows * cols, c, hh, ww])?;
            through(&self.pipeline, &flat, &params.sub("0"))?
                .f_reshape([b, rows, cols, c, hh, ww])?
        } else {
            let flat = grid.f_reshape([b, rows * cols, c, hh, ww])?;
            let mut outs = Vec::with_capacity((rows * cols) as usize);
            for g in 0..rows * cols {
                let x_g = flat.f_select(1, g)?;
                let sub = params.sub(&g.to_string());
                let out = if random {
                    through(&self.pipeline, &x_g, &sub)?
                } else {
                    through(
                        self.pipeline.steps()[g as usize].as_ref(),
                        &x_g,
                        &sub.sub("0"),
                    )?
                };
                outs.push(out);
            }
            Tensor::f_stack(&outs, 1)?.f_reshape([b, rows, cols, c, hh, ww])?
        };
        let image =
            patches
                .f_permute([0, 3, 1, 4, 2, 5])?
                .f_reshape([b, c, rows * hh, cols * ww])?;
        // Remove what was padded; what was cropped stays cropped.
        let [l, r, t, bo] = cut.pad.map(|p| p.max(0));
        let (h, w) = (rows * hh, cols * ww);
        Ok(image
            .f_narrow(2, t, h - t - bo)?
            .f_narrow(3, l, w - l - r)?)
    }

    /// The first applied step that moves pixels (its geometry on its patches is not
    /// [`Geometry::None`]; a nested container always counts as moving them).
    fn moving_step(&self, cut: &Cut, params: &Params) -> Result<Option<String>> {
        let random = self.random;
        for g in 0..self.groups() {
            let sub = params.sub(&g.to_string());
            let applied: Vec<usize> = match sub.get("selection") {
                Some(sel) if random => Vec::<i64>::try_from(sel.to_device(Device::Cpu))?
                    .into_iter()
                    .map(|i| i as usize)
                    .collect(),
                _ if self.patchwise && !random => vec![g as usize],
                _ => (0..self.pipeline.steps().len()).collect(),
            };
            for (pos, &i) in applied.iter().enumerate() {
                let Some(step) = self.pipeline.steps().get(i) else {
                    return Err(Error::Params {
                        op: PATCH,
                        key: format!("{g}.selection"),
                        problem: format!(
                            "holds step {i}; the pipeline has {}",
                            self.pipeline.steps().len()
                        ),
                    });
                };
                if matches!(step.role().0, RoleKind::Container(_)) {
                    return Ok(Some(step.name().to_string()));
                }
                let p = sub.sub(&pos.to_string());
                let g = step.geometry_ungated(&cut.patches, &p, Kind::Float, Device::Cpu)?;
                if !matches!(g, Geometry::None) {
                    return Ok(Some(step.name().to_string()));
                }
            }
        }
        Ok(None)
    }
}

/// Params drawn for another batch are refused (their `batch_prob`s).
fn params_batch(pipe: &dyn Augmentation, params: &Params, x: &Tensor) -> Result<()> {
    crate::checks::params_batch(pipe.name(), params, &x.size())
}

fn restore(x: Tensor, unbatched: bool) -> Tensor {
    if unbatched {
        x.squeeze_dim(0)
    } else {
        x
    }
}

args::impl_layers!(PatchSequential);
