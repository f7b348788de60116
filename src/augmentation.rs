//! The augmentation trait: Kornia's four stages (config, sample, apply, inverse), typed,
//! with the geometry of each step as a value and annotations carried along.

use crate::annotations::{self, AnnotationOptions, Batch, MaskSampling, Record};
use crate::checks::{self, Batched};
use crate::color_map::{ColorMap, ColorStats};
use crate::geometry::{Geometry, Transform};
use crate::labels::{mix_cross_entropy, LambdaWeight};
use crate::warp::{self, Sampling};
use crate::{AugSpec, Error, Params, Range, Result};
use tch::{nn, Device, Kind, Tensor};

/// One augmentation: sample parameters, apply them, report their geometry, and (for
/// geometric ones) invert them.
///
/// The trait is object safe, so containers hold `Box<dyn Augmentation>`, including a
/// user's own types. Implementors provide `name`, `spec`, `sample` and `apply_transform`,
/// and a geometric augmentation its [`Augmentation::geometry_ungated`] (and, when its image
/// output is a warp by its matrix, its [`Augmentation::sampling`]); masks, boxes, keypoints
/// and inverses then follow from the geometry. Callers use the `f_*` methods of
/// [`AugmentationExt`] (which validate the input, accept (C,H,W) as well as (B,C,H,W) (for
/// volumes (C,D,H,W) and (B,C,D,H,W)), and honour the `p` gate) or their panicking twins;
/// every `Augmentation` has them, and none can replace them.
///
/// # Threads
/// Augmentations are `Send + Sync`: a pipeline can move to another thread, or be shared
/// behind an `Arc` for concurrent forward passes, which only read its ranges (an optimiser
/// step or a load running at the same time is the caller's to synchronise, as for any tch
/// model). A user's type that holds a tensor (which tch makes `Send` but not `Sync`) keeps
/// it behind a `std::sync::Mutex`, or as plain data turned into a tensor per call.
/// Draws come from torch's process-wide generator, or from a [`crate::Generator`] in scope
/// on the calling thread.
pub trait Augmentation: std::fmt::Debug + Send + Sync {
    /// The type's name (e.g. `"RandomAffine"`), as in [`AugSpec::name`] and error messages.
    fn name(&self) -> &'static str;

    /// The name of Kornia's class for it, where it differs from [`Augmentation::name`]
    /// (`RandomMixUpV2`, `RandomCutMixV2`, `AugmentationSequential`, `LongestMaxSize`,
    /// `SmallestMaxSize`).
    fn kornia_name(&self) -> &'static str {
        self.name()
    }

    /// The number of spatial dimensions it works on: 2 for images (B,C,H,W), 3 for
    /// volumes (B,C,D,H,W). Matrices are (B, n+1, n+1).
    fn spatial_dims(&self) -> usize {
        2
    }

    /// The configuration, as a serialisable spec that rebuilds this augmentation.
    fn spec(&self) -> AugSpec;

    /// The names of its magnitude ranges: those a [`crate::Learnable`] can name, each held
    /// as the VarStore variables `<name>_lo` and `<name>_hi` (or `<name>` for a single
    /// value) under the augmentation's path. Empty when it has none.
    fn range_names(&self) -> &'static [&'static str] {
        &[]
    }

    /// Its magnitude ranges, fixed and learnable (a container's: all of its steps'), each
    /// with its name, domain and `VarStore` names. Empty when it has none.
    fn ranges(&self) -> Vec<&Range> {
        Vec::new()
    }

    /// Whether a uint8 input (decoded images, 0..=255) is accepted and read as `x / 255` in
    /// float32, converted in one pass before the first step (true for [`crate::Sequential`];
    /// operators refuse integer inputs with [`Error::Dtype`]). The output is float32.
    fn accepts_uint8(&self) -> bool {
        false
    }

    /// Whether the output depends on random draws. Deterministic augmentations
    /// (Normalize, CenterCrop, ...) still apply in evaluation mode under [`TrainOnly`].
    fn is_random(&self) -> bool {
        true
    }

    /// `(p, p_batch)`: the per-sample and per-batch application probabilities.
    fn probabilities(&self) -> (f64, f64) {
        (1.0, 1.0)
    }

    /// The batched shape of the output for a batched input of shape `shape`.
    fn output_shape(&self, shape: &[i64]) -> Vec<i64> {
        shape.to_vec()
    }

    /// Whether its output size is part of its draw (torchvision's ScaleJitter and
    /// RandomShortestSize): its params then hold `output_size` (B,2) int64 `(h, w)` on the
    /// CPU, which gives the output shape ([`AugmentationExt::output_shape_for`]);
    /// [`Augmentation::output_shape`] is then the input's, the size being unknown before
    /// the draw.
    fn output_size_drawn(&self) -> bool {
        false
    }

    /// Checks a batched shape beyond the generic checks (channel counts, sizes).
    fn check_shape(&self, _shape: &[i64]) -> Result<()> {
        Ok(())
    }

    /// Draws the parameters for a batched input of shape `shape` in one batched call per
    /// quantity from torch's RNG on `device`, `batch_prob` included. `shape` must be a
    /// valid batched shape for this augmentation: [`AugmentationExt::f_sample`] checks a
    /// caller's shape first.
    fn sample(&self, shape: &[i64], device: Device) -> Result<Params>;

    /// Applies `params` to every sample of a validated batched input, ignoring the gate.
    fn apply_transform(&self, input: &Tensor, params: &Params) -> Result<Tensor>;

    /// What the augmentation does to coordinates, for every sample, ignoring the gate:
    /// [`Geometry::None`] for intensity augmentations (the default), a matrix for affine,
    /// projective, flip, crop, resize and pad steps, a dense field for elastic, fisheye and
    /// thin-plate-spline warps.
    fn geometry_ungated(
        &self,
        _shape: &[i64],
        _params: &Params,
        _kind: Kind,
        _device: Device,
    ) -> Result<Geometry> {
        Ok(Geometry::None)
    }

    /// How the image is resampled, when the output is a warp by the matrix of
    /// [`Augmentation::geometry_ungated`] (`None` otherwise). Masks are then resampled on the
    /// same grid, and a pipeline with `fuse_geometry` may fold the step into one warp.
    fn sampling(&self) -> Option<Sampling> {
        None
    }

    /// Maps an output back to the input geometry (`input_shape` is batched), for every
    /// sample, ignoring the gate. The default warps back with the inverse matrix (with
    /// [`Augmentation::sampling`], as Kornia's inverse) or the inverted dense field;
    /// intensity augmentations have none.
    fn inverse_transform(
        &self,
        output: &Tensor,
        params: &Params,
        input_shape: &[i64],
    ) -> Result<Tensor> {
        let g = self.geometry_ungated(input_shape, params, output.kind(), output.device())?;
        let s = self.sampling().unwrap_or_default();
        inverse_by_geometry(self.name(), &g, output, input_shape, &s)
    }

    /// Applies `params` to masks (B,K,…) (float, validated), ignoring the gate, with the
    /// resampling `how`. The default follows the geometry: unchanged for intensity steps,
    /// warped on the step's grid (with its padding, but zeros for a fill) for matrices,
    /// sampled through the field for dense warps.
    fn apply_mask(&self, mask: &Tensor, params: &Params, how: &MaskSampling) -> Result<Tensor> {
        let shape = mask.size();
        let g = self.geometry_ungated(&shape, params, mask.kind(), mask.device())?;
        let out = self.output_shape(&shape);
        let s = mask_sampling(self.sampling(), how);
        match g {
            Geometry::None => Ok(mask.shallow_clone()),
            Geometry::Matrix(t) => warp::warp(mask, &t, warp::spatial(&out), &s),
            Geometry::Dense(f) => warp::sample(mask, &f.to_grid(s.align_corners), &s),
        }
    }

    /// Maps masks back to the input geometry, ignoring the gate (the inverse of
    /// [`Augmentation::apply_mask`]; unchanged for intensity steps).
    fn inverse_mask(
        &self,
        mask: &Tensor,
        params: &Params,
        input_shape: &[i64],
        how: &MaskSampling,
    ) -> Result<Tensor> {
        let g = self.geometry_ungated(input_shape, params, mask.kind(), mask.device())?;
        let s = mask_sampling(self.sampling(), how);
        match g {
            Geometry::None => Ok(mask.shallow_clone()),
            g => inverse_by_geometry(self.name(), &g, mask, input_shape, &s),
        }
    }

    /// This augmentation as a mixing one, if it mixes samples (MixUp, CutMix): a pipeline
    /// then mixes the labels too.
    fn as_mix(&self) -> Option<&dyn MixAugmentation> {
        None
    }

    /// How the crate's pipelines treat the step: as an operator (the default, and what a
    /// type of your own keeps), or as one of the crate's containers or colour steps with a
    /// fused form, roles only the crate can build. Not something to override.
    fn role(&self) -> Role<'_> {
        Role::operator()
    }
}

/// How the crate's pipelines treat a step (see [`Augmentation::role`]): an operator, unless
/// it is one of the crate's containers or fusible colour steps.
#[derive(Clone, Copy)]
pub struct Role<'a>(pub(crate) RoleKind<'a>);

impl std::fmt::Debug for Role<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self.0 {
            RoleKind::Operator => "Role::Operator",
            RoleKind::Container(_) => "Role::Container",
            RoleKind::Color(_) => "Role::Color",
            RoleKind::MaskDriven(_) => "Role::MaskDriven",
            RoleKind::Regrouping(_) => "Role::Regrouping",
        })
    }
}

impl<'a> Role<'a> {
    /// An operator: applied on its own, one step of a pipeline.
    pub fn operator() -> Self {
        Role(RoleKind::Operator)
    }

    /// One of the crate's containers (a pipeline or a preset): its steps go through the
    /// record one by one.
    pub(crate) fn container(c: &'a dyn Container) -> Self {
        Role(RoleKind::Container(c))
    }

    /// A colour step with a fast-mode colour map, which a pipeline with `fuse_color` folds.
    pub(crate) fn color(c: &'a dyn ColorStep) -> Self {
        Role(RoleKind::Color(c))
    }

    /// An operator whose params are completed from the masks it is applied to.
    pub(crate) fn mask_driven(m: &'a dyn MaskDriven) -> Self {
        Role(RoleKind::MaskDriven(m))
    }

    /// An operator whose output images hold the boxes of several inputs.
    pub(crate) fn regrouping(r: &'a dyn Regrouping) -> Self {
        Role(RoleKind::Regrouping(r))
    }
}

#[derive(Clone, Copy)]
pub(crate) enum RoleKind<'a> {
    Operator,
    Container(&'a dyn Container),
    Color(&'a dyn ColorStep),
    MaskDriven(&'a dyn MaskDriven),
    Regrouping(&'a dyn Regrouping),
}

/// What a container (Sequential, the presets) does beyond an operator: it carries a record
/// through its steps, and knows its nesting and the output shape of what it drew.
pub(crate) trait Container: Augmentation {
    /// How deeply containers nest inside this one (1 for a container of operators).
    fn depth(&self) -> usize;

    /// One draw through the steps, on the record form.
    fn apply_steps(&self, w: Record, params: &Params, opts: &AnnotationOptions) -> Result<Record>;

    /// The inverse of [`Container::apply_steps`].
    fn inverse_steps(
        &self,
        w: Record,
        params: &Params,
        input_shape: &[i64],
        opts: &AnnotationOptions,
    ) -> Result<Record>;

    /// The batched output shape for `params` drawn for a batched `shape` (a container's
    /// depends on which steps it drew).
    fn steps_output_shape(&self, shape: &[i64], _params: &Params) -> Vec<i64> {
        self.output_shape(shape)
    }

    /// The evaluation forward ([`AugmentationExt::f_forward_eval`]).
    fn forward_eval(&self, input: &Tensor) -> Result<Tensor> {
        operator_forward_eval(self, input)
    }

    /// The container's own annotation options.
    fn options(&self) -> AnnotationOptions {
        AnnotationOptions::default()
    }
}

/// A colour step with a fast-mode form.
pub(crate) trait ColorStep: Augmentation {
    /// The fast mode's form of the step: a per-sample affine map of the channels and a
    /// clamp, ungated, for an input of shape `shape` (an approximation where the step is
    /// not affine; each step documents its own).
    fn color_map(&self, shape: &[i64], params: &Params, stats: &ColorStats<'_>)
        -> Result<ColorMap>;
}

/// An operator whose params depend on the record it is applied to (RandomTransplantation:
/// which object moves is read from the label mask; RandomIoUCrop: the window is the first
/// drawn one that the boxes accept), as Kornia's `params_from_input`.
pub(crate) trait MaskDriven: Augmentation {
    /// `params` completed from the record entering the step (unchanged when they already
    /// hold what the masks would give).
    fn complete_params(&self, w: &Record, params: &Params) -> Result<Params>;

    /// (B,N) which boxes the step keeps, from the completed `params` (`None`: all); the
    /// others are marked invalid.
    fn kept_boxes(&self, _params: &Params) -> Option<Tensor> {
        None
    }
}

/// An operator whose output images hold the boxes of several inputs (RandomMosaic): it
/// regroups the record's boxes itself, instead of mapping them through a geometry, and
/// records where each came from ([`crate::annotations::BoxSource`]).
pub(crate) trait Regrouping: Augmentation {
    /// The boxes of `w` (the record entering the step: its image is the step's input)
    /// regrouped for the step's output, with what follows them (the visible region, the
    /// box sources); `w` is left as it was on an error.
    fn regroup(&self, w: &mut Record, params: &Params, opts: &AnnotationOptions) -> Result<()>;
}

/// The crate's view of any step, dispatched on its [`Role`].
pub(crate) trait Step: Augmentation {
    /// How deeply containers nest inside this step (0 for an operator).
    fn nesting_depth(&self) -> usize {
        match self.role().0 {
            RoleKind::Container(c) => c.depth(),
            _ => 0,
        }
    }

    /// Whether a pipeline with `fuse_color` may fold it into a colour run.
    fn fuses_color(&self) -> bool {
        matches!(self.role().0, RoleKind::Color(_))
    }

    /// The step's colour map (only for [`Step::fuses_color`] steps).
    fn fused_color_map(
        &self,
        shape: &[i64],
        params: &Params,
        stats: &ColorStats<'_>,
    ) -> Result<ColorMap> {
        match self.role().0 {
            RoleKind::Color(c) => c.color_map(shape, params, stats),
            _ => Err(Error::Params {
                op: self.name(),
                key: "color_map".into(),
                problem: "asked of a step that has no colour map".into(),
            }),
        }
    }

    /// The batched output shape for `params` drawn for a batched `shape`.
    fn drawn_output_shape(&self, shape: &[i64], params: &Params) -> Vec<i64> {
        match self.role().0 {
            RoleKind::Container(c) => c.steps_output_shape(shape, params),
            _ if self.output_size_drawn() => {
                match params.batch_row(self.name(), "output_size", 2, 1) {
                    Ok(hw) => [&shape[..2], &hw[..]].concat(),
                    // Params without their size: the step's apply says so.
                    Err(_) => self.output_shape(shape),
                }
            }
            _ => self.output_shape(shape),
        }
    }

    /// The step applied with its gate to a validated batched input.
    fn gated_apply(&self, x: &Tensor, params: &Params) -> Result<Tensor> {
        let out = self.apply_transform(x, params)?;
        if !gated_apply_needed(self) {
            return Ok(out);
        }
        gate_blend(&out, x, params, self.name())
    }

    /// One step on the record form.
    fn apply_record(&self, w: Record, params: &Params, opts: &AnnotationOptions) -> Result<Record> {
        match self.role().0 {
            RoleKind::Container(c) => c.apply_steps(w, params, opts),
            _ => step_apply_record(self, w, params, opts),
        }
    }

    /// The inverse of one step on the record form.
    fn inverse_record(
        &self,
        w: Record,
        params: &Params,
        input_shape: &[i64],
        opts: &AnnotationOptions,
    ) -> Result<Record> {
        match self.role().0 {
            RoleKind::Container(c) => c.inverse_steps(w, params, input_shape, opts),
            _ => step_inverse_record(self, w, params, input_shape, opts),
        }
    }
}

impl<T: Augmentation + ?Sized> Step for T {}

/// [`AugmentationExt::f_forward_eval`] of an operator: the identity when random.
pub(crate) fn operator_forward_eval<A: Augmentation + ?Sized>(
    aug: &A,
    input: &Tensor,
) -> Result<Tensor> {
    if aug.is_random() {
        Ok(input.shallow_clone())
    } else {
        aug.f_forward(input)
    }
}

/// Everything a user calls on an augmentation: validated, gated, with panicking twins.
///
/// Implemented for every [`Augmentation`] (and `dyn Augmentation`) by a blanket impl, so no
/// type overrides these checked entry points. In [`crate::prelude`] and the crate root.
///
/// A type of your own implements the four required methods and gets these:
/// ```
/// use tch::{Device, Kind, Tensor};
/// use tch_dda::{serde_json::json, AugSpec, Augmentation, AugmentationExt, CustomSpec, Params};
///
/// #[derive(Debug)]
/// struct Invert;
///
/// impl Augmentation for Invert {
///     fn name(&self) -> &'static str {
///         "Invert"
///     }
///     fn spec(&self) -> AugSpec {
///         AugSpec::Custom(CustomSpec { name: "Invert".into(), config: json!({}) })
///     }
///     fn sample(&self, _shape: &[i64], _device: Device) -> tch_dda::Result<Params> {
///         Ok(Params::new())
///     }
///     fn apply_transform(&self, x: &Tensor, _params: &Params) -> tch_dda::Result<Tensor> {
///         Ok(1.0 - x)
///     }
/// }
///
/// let x = Tensor::zeros([3, 4, 4], (Kind::Float, Device::Cpu));
/// assert_eq!(Invert.f_forward(&x)?.double_value(&[0, 0, 0]), 1.0);
/// // The checks come with it: a (4,4) input is refused, not passed through.
/// assert!(Invert.f_forward(&Tensor::zeros([4, 4], (Kind::Float, Device::Cpu))).is_err());
/// # Ok::<(), tch_dda::Error>(())
/// ```
/// Overriding a checked entry point does not compile (`f_forward` is not a method of
/// [`Augmentation`]):
/// ```compile_fail
/// # use tch::{Device, Tensor};
/// # use tch_dda::{serde_json::json, AugSpec, Augmentation, CustomSpec, Params};
/// # #[derive(Debug)]
/// # struct Invert;
/// impl Augmentation for Invert {
/// #   fn name(&self) -> &'static str {
/// #       "Invert"
/// #   }
/// #   fn spec(&self) -> AugSpec {
/// #       AugSpec::Custom(CustomSpec { name: "Invert".into(), config: json!({}) })
/// #   }
/// #   fn sample(&self, _shape: &[i64], _device: Device) -> tch_dda::Result<Params> {
/// #       Ok(Params::new())
/// #   }
/// #   fn apply_transform(&self, x: &Tensor, _params: &Params) -> tch_dda::Result<Tensor> {
/// #       Ok(1.0 - x)
/// #   }
///     // ...the four methods above, and:
///     fn f_forward(&self, x: &Tensor) -> tch_dda::Result<Tensor> {
///         Ok(x.shallow_clone())
///     }
/// }
/// ```
/// nor does an implementation of `AugmentationExt` of one's own (it conflicts with the
/// blanket one):
/// ```compile_fail
/// # use tch::{Device, Tensor};
/// # use tch_dda::{serde_json::json, AugSpec, Augmentation, AugmentationExt, CustomSpec, Params};
/// # #[derive(Debug)]
/// # struct Invert;
/// # impl Augmentation for Invert {
/// #   fn name(&self) -> &'static str {
/// #       "Invert"
/// #   }
/// #   fn spec(&self) -> AugSpec {
/// #       AugSpec::Custom(CustomSpec { name: "Invert".into(), config: json!({}) })
/// #   }
/// #   fn sample(&self, _shape: &[i64], _device: Device) -> tch_dda::Result<Params> {
/// #       Ok(Params::new())
/// #   }
/// #   fn apply_transform(&self, x: &Tensor, _params: &Params) -> tch_dda::Result<Tensor> {
/// #       Ok(1.0 - x)
/// #   }
/// # }
/// impl AugmentationExt for Invert {}
/// ```
pub trait AugmentationExt: Augmentation {
    /// Checks `input_shape` ((B,C,H,W) or (C,H,W); volumes (B,C,D,H,W) or (C,D,H,W): every
    /// size at least 1, and what the augmentation needs) and draws parameters for it.
    ///
    /// # Errors
    /// [`Error::Rank`], [`Error::Empty`], [`Error::Channels`] or [`Error::Size`].
    fn f_sample(&self, input_shape: &[i64], device: Device) -> Result<Params> {
        let shape = batched_shape(self, input_shape)?;
        self.check_shape(&shape)?;
        self.sample(&shape, device)
    }

    /// Validates `input`, draws parameters, and applies them.
    ///
    /// # Errors
    /// [`Error::Rank`], [`Error::Dtype`], [`Error::Empty`], [`Error::Channels`] or
    /// [`Error::Size`] for an input the augmentation cannot take.
    fn f_forward_with_params(&self, input: &Tensor) -> Result<(Tensor, Params)> {
        let b = batched(self, input)?;
        let params = self.sample(&b.x.size(), b.x.device())?;
        let out = self.gated_apply(&b.x, &params)?;
        Ok((b.restore(out), params))
    }

    /// Validates `input`, draws parameters, and applies them; returns the output only.
    ///
    /// # Errors
    /// As [`AugmentationExt::f_forward_with_params`].
    fn f_forward(&self, input: &Tensor) -> Result<Tensor> {
        Ok(self.f_forward_with_params(input)?.0)
    }

    /// The forward of evaluation mode ([`TrainOnly`] with `train = false`): a random
    /// augmentation returns its input, a deterministic one (Normalize, CenterCrop, ...)
    /// applies. A [`crate::Sequential`] applies its deterministic steps in order and skips
    /// its random ones, whatever its random selection would have drawn, and reads a uint8
    /// input as `x / 255` in float32, as its training forward does.
    ///
    /// # Errors
    /// As [`AugmentationExt::f_forward`], for the steps that apply.
    fn f_forward_eval(&self, input: &Tensor) -> Result<Tensor> {
        match self.role().0 {
            RoleKind::Container(c) => c.forward_eval(input),
            _ => operator_forward_eval(self, input),
        }
    }

    /// Applies given parameters (a replay): deterministic; samples whose `batch_prob` is 0
    /// come back unchanged.
    ///
    /// # Errors
    /// As [`AugmentationExt::f_forward_with_params`], plus [`Error::Params`] for a map that
    /// lacks a key, has the wrong shape, was drawn for another batch (its `batch_prob`), or
    /// (on the CPU) has a non-finite value, and [`Error::NonFinite`] when (on the CPU) the params turn a finite input of image
    /// magnitude (|x| <= 1e3) non-finite.
    fn f_apply(&self, input: &Tensor, params: &Params) -> Result<Tensor> {
        let b = batched(self, input)?;
        params.check_finite(self.name())?;
        checks::params_batch(self.name(), params, &b.x.size())?;
        let out = self.gated_apply(&b.x, params)?;
        check_replay_output(self.name(), &b.x, &out)?;
        Ok(b.restore(out))
    }

    /// The geometry of `params` for an input of shape `input_shape` ((B,C,H,W) or (C,H,W);
    /// volumes (B,C,D,H,W) or (C,D,H,W)), with the gate applied: unchanged coordinates for
    /// samples whose gate was off.
    ///
    /// # Errors
    /// [`Error::Rank`] for a shape of the wrong rank; [`Error::Params`] for a map that lacks
    /// a key, or a shape of another batch, rank or channel count than the params were drawn
    /// for; [`Error::TooLarge`] for a shape past [`crate::MAX_TENSOR_BYTES`].
    fn f_geometry(
        &self,
        input_shape: &[i64],
        params: &Params,
        kind: Kind,
        device: Device,
    ) -> Result<Geometry> {
        replay_shape(self, input_shape, params)?;
        gated_geometry(self, input_shape, params, kind, device)
    }

    /// The geometry as a matrix: the identity for intensity augmentations, the (gated)
    /// matrix for geometric ones.
    ///
    /// # Errors
    /// As [`AugmentationExt::f_geometry`], and [`Error::NotAMatrix`] for a dense warp.
    fn f_transform(
        &self,
        input_shape: &[i64],
        params: &Params,
        kind: Kind,
        device: Device,
    ) -> Result<Transform> {
        replay_shape(self, input_shape, params)?;
        gated_transform(self, input_shape, params, kind, device)
    }

    /// The (B,3,3) (volumes: (B,4,4)) matrix mapping input pixels to output pixels; the
    /// identity where the gate is off, and for intensity augmentations (as Kornia).
    ///
    /// # Errors
    /// As [`AugmentationExt::f_transform`].
    fn f_transform_matrix(
        &self,
        input_shape: &[i64],
        params: &Params,
        kind: Kind,
        device: Device,
    ) -> Result<Tensor> {
        Ok(self
            .f_transform(input_shape, params, kind, device)?
            .matrix()
            .shallow_clone())
    }

    /// Maps an augmented output back to the geometry of an input of shape `input_shape`
    /// ((B,C,H,W) or (C,H,W); for volumes (B,C,D,H,W) or (C,D,H,W)). Samples whose gate was off come back unchanged.
    ///
    /// # Errors
    /// [`Error::NotInvertible`] for intensity augmentations; input errors as
    /// [`AugmentationExt::f_forward_with_params`]; [`Error::Params`] for an `input_shape` or an
    /// `output` of another batch, rank or channel count than the params were drawn for;
    /// [`Error::TooLarge`] for an `input_shape` past [`crate::MAX_TENSOR_BYTES`].
    fn f_inverse(&self, output: &Tensor, params: &Params, input_shape: &[i64]) -> Result<Tensor> {
        let b = checks::input(self.name(), output, self.spatial_dims())?;
        let shape = batched_shape(self, input_shape)?;
        params.check_finite(self.name())?;
        checks::against_params(self.name(), params, &shape, Some(&b.x.size()))?;
        let inv = self.inverse_transform(&b.x, params, &shape)?;
        let out = if self.probabilities() == (1.0, 1.0) || inv.size() != b.x.size() {
            inv
        } else {
            gate_blend(&inv, &b.x, params, self.name())?
        };
        Ok(b.restore(out))
    }

    /// Draws parameters and applies them to a whole record: the image, and with it its
    /// masks, boxes, keypoints and labels (see [`Batch`]), carried per
    /// [`AugmentationExt::annotation_options`].
    ///
    /// # Errors
    /// Input errors as [`AugmentationExt::f_forward_with_params`]; [`Error::Annotation`] for an
    /// annotation that does not fit the image (shape, batch, kind, box order) or cannot go
    /// through a step (boxes or keypoints through a mixing step, masks through MixUp), or
    /// whose coordinates overflow float32 through a step (checked on the CPU).
    fn f_forward_batch(&self, batch: &Batch) -> Result<(Batch, Params)> {
        forward_batch_drawn(self, batch, &mut |shape, device| self.sample(shape, device))
    }

    /// Replays `params` on a whole record.
    ///
    /// # Errors
    /// As [`AugmentationExt::f_forward_batch`], plus [`Error::Params`].
    fn f_apply_batch(&self, batch: &Batch, params: &Params) -> Result<Batch> {
        let opts = self.annotation_options();
        let batch = &float_batch(self, batch)?;
        let (mut w, layout) =
            annotations::to_record(self.name(), batch, self.spatial_dims(), false)?;
        self.check_shape(&w.image.size())?;
        annotations::check_instance_masks(self.name(), &w, &opts)?;
        annotations::check_box_mode(self.name(), &w, &opts)?;
        w.start_visible(&opts);
        params.check_finite(self.name())?;
        let input = w.image.shallow_clone();
        let w = self.apply_record(w, params, &opts)?;
        check_replay_output(self.name(), &input, &w.image)?;
        let out = annotations::from_record(w, &layout, &opts, true);
        annotations::check_output_finite(self.name(), batch, &out)?;
        Ok(out)
    }

    /// Maps an output record back to the input of shape `input_shape`: the image and masks
    /// are warped back (intensity steps stay applied, as in Kornia), boxes and keypoints
    /// mapped back. Boxes that carry their corners (a forward output) come back as the
    /// original boxes; others as the enclosure of their mapped corners.
    ///
    /// # Errors
    /// As [`AugmentationExt::f_forward_batch`]; [`Error::NotInvertible`] for a step whose
    /// params give a singular matrix (checked on the CPU, where reading it costs no device
    /// synchronisation; on a GPU the inverse has non-finite entries instead).
    fn f_inverse_batch(
        &self,
        output: &Batch,
        params: &Params,
        input_shape: &[i64],
    ) -> Result<Batch> {
        let opts = self.annotation_options();
        let shape = batched_shape(self, input_shape)?;
        params.check_finite(self.name())?;
        let (w, layout) = annotations::to_record(self.name(), output, self.spatial_dims(), true)?;
        annotations::check_box_mode(self.name(), &w, &opts)?;
        checks::against_params(self.name(), params, &shape, Some(&w.image.size()))?;
        let w = self.inverse_record(w, params, &shape, &opts)?;
        let out = annotations::from_record(w, &layout, &opts, false);
        annotations::check_output_finite(self.name(), output, &out)?;
        Ok(out)
    }

    /// How [`AugmentationExt::f_forward_batch`] carries annotations (a pipeline's own options;
    /// the defaults for a single augmentation).
    fn annotation_options(&self) -> AnnotationOptions {
        match self.role().0 {
            RoleKind::Container(c) => c.options(),
            _ => AnnotationOptions::default(),
        }
    }

    /// Saves the state of its ranges (fixed and learnable) to `file` (safetensors for a
    /// `.safetensors` extension, else tch's format), under their `VarStore` names; a
    /// learnable range as drawn (ordered, clamped to its domain), whatever an optimiser did
    /// to its raw variables.
    ///
    /// # Errors
    /// [`Error::Torch`] or [`Error::Io`] when the file cannot be written.
    fn f_save_state(&self, file: &std::path::Path) -> Result<()> {
        crate::state::save_state(self, file)
    }

    /// Loads state saved by [`AugmentationExt::f_save_state`] (or a
    /// [`crate::Sequential::f_save`] file) into its ranges: checked first (every range
    /// variable present, nothing else, floating point scalars, finite, fixed ranges equal to
    /// the file's, learnable ones inside their domain with `lo <= hi`), then all copied; on
    /// `Err` nothing has changed.
    ///
    /// # Errors
    /// [`Error::State`] naming the first mismatch; [`Error::Torch`] or [`Error::Io`] for a
    /// file that cannot be read.
    fn f_load_state(&self, file: &std::path::Path) -> Result<()> {
        crate::state::load_state(self, file)
    }

    /// Panicking form of [`AugmentationExt::f_forward_with_params`].
    fn forward_with_params(&self, input: &Tensor) -> (Tensor, Params) {
        crate::error::or_panic(self.f_forward_with_params(input))
    }

    /// Panicking form of [`AugmentationExt::f_apply`].
    fn apply(&self, input: &Tensor, params: &Params) -> Tensor {
        crate::error::or_panic(self.f_apply(input, params))
    }

    /// Panicking form of [`AugmentationExt::f_inverse`].
    fn inverse(&self, output: &Tensor, params: &Params, input_shape: &[i64]) -> Tensor {
        crate::error::or_panic(self.f_inverse(output, params, input_shape))
    }

    /// Wraps the augmentation in a [`TrainOnly`] layer for `nn::seq_t()`.
    fn train_only(self) -> TrainOnly<Self>
    where
        Self: Sized,
    {
        TrainOnly(self)
    }

    /// The batched output shape for `params` drawn for a batched input of shape `shape`
    /// (a pipeline with a random selection of steps: that of the steps it drew).
    fn output_shape_for(&self, shape: &[i64], params: &Params) -> Vec<i64> {
        self.drawn_output_shape(shape, params)
    }
}

impl<T: Augmentation + ?Sized> AugmentationExt for T {}

/// [`AugmentationExt::f_forward_batch`] with the params from `draw(batched input shape,
/// device)` (a [`crate::VideoSequential`] draws per clip for its frames).
pub(crate) fn forward_batch_drawn<A: Augmentation + ?Sized>(
    aug: &A,
    batch: &Batch,
    draw: &mut dyn FnMut(&[i64], Device) -> Result<Params>,
) -> Result<(Batch, Params)> {
    let opts = aug.annotation_options();
    let batch = &float_batch(aug, batch)?;
    let (mut w, layout) = annotations::to_record(aug.name(), batch, aug.spatial_dims(), false)?;
    aug.check_shape(&w.image.size())?;
    annotations::check_instance_masks(aug.name(), &w, &opts)?;
    annotations::check_box_mode(aug.name(), &w, &opts)?;
    w.start_visible(&opts);
    let params = draw(&w.image.size(), w.image.device())?;
    let w = aug.apply_record(w, &params, &opts)?;
    let out = annotations::from_record(w, &layout, &opts, true);
    annotations::check_output_finite(aug.name(), batch, &out)?;
    Ok((out, params))
}

/// [`Step::apply_record`] of an operator: the image through the gated step, masks
/// through its gated mask path, points through its gated geometry, labels through a mixing
/// step.
pub(crate) fn step_apply_record<A: Augmentation + ?Sized>(
    aug: &A,
    w: Record,
    params: &Params,
    opts: &AnnotationOptions,
) -> Result<Record> {
    let completed;
    let params = match aug.role().0 {
        RoleKind::MaskDriven(m) => {
            completed = m.complete_params(&w, params)?;
            &completed
        }
        _ => params,
    };
    let shape = w.image.size();
    let (kind, device) = (w.image.kind(), w.image.device());
    let image = aug.gated_apply(&w.image, params)?;
    let masks = match &w.masks {
        Some(m) => Some(gated_mask(aug, m, params, &opts.mask_sampling(), None)?),
        None => None,
    };
    let mut w = w;
    let (outlines, keypoints) =
        if let (true, RoleKind::Regrouping(r)) = (w.has_points(), aug.role().0) {
            r.regroup(&mut w, params, opts)?;
            (w.outlines.take(), w.keypoints.take())
        } else if w.has_points() {
            let g = gated_geometry(aug, &shape, params, w.point_kind(), device)?;
            let moves = !matches!(g, Geometry::None);
            if moves {
                w.map_visible(&g);
            }
            let (outlines, keypoints) =
                map_working_points(&g, w.outlines.take(), w.keypoints.take(), opts);
            // What the step's frame leaves visible (a step without geometry keeps the frame).
            w.keypoints = keypoints;
            if moves {
                w.clip_visible(&image.size());
            }
            (outlines, w.keypoints.take())
        } else {
            (None, None)
        };
    if let (Some(o), RoleKind::MaskDriven(m)) = (&outlines, aug.role().0) {
        if let Some(keep) = m.kept_boxes(params) {
            let keep = keep.f_to_device(device)?.f_to_kind(Kind::Bool)?;
            let s = o.size();
            let source = match w.box_source.take() {
                Some(s) => s,
                None => annotations::BoxSource::own(s[0], s[1], device)?,
            };
            w.box_source = Some(annotations::BoxSource {
                valid: source.valid.f_logical_and(&keep)?,
                index: source.index,
            });
            if let Some(v) = w.visible.as_mut() {
                v.alive = v.alive.f_logical_and(&keep)?;
            }
        }
    }
    let (labels, mixed) =
        match aug.as_mix() {
            None => (w.labels, w.mixed),
            Some(mix) => {
                if outlines.is_some() || keypoints.is_some() {
                    return Err(Error::Annotation {
                        op: aug.name(),
                        what: "boxes and keypoints",
                        problem:
                            "cannot go through a mixing step (each output image holds parts of two)"
                                .into(),
                    });
                }
                match (&w.labels, &w.mixed) {
                    (_, Some(_)) => return Err(Error::Annotation {
                        op: aug.name(),
                        what: "labels",
                        problem:
                            "were already mixed by an earlier step; one mixing step per pipeline"
                                .into(),
                    }),
                    (Some(l), None) => {
                        let m = gated_mixed_labels(mix, l, params, kind)?;
                        (w.labels, Some(m))
                    }
                    (None, None) => (None, None),
                }
            }
        };
    Ok(Record {
        image,
        masks,
        outlines,
        keypoints,
        labels,
        mixed,
        visible: w.visible,
        keypoints_inside: w.keypoints_inside,
        oriented: w.oriented,
        box_source: w.box_source,
    })
}

/// [`Step::inverse_record`] of an operator: the image and masks warped back (intensity
/// steps stay applied), points mapped back through the gated geometry.
pub(crate) fn step_inverse_record<A: Augmentation + ?Sized>(
    aug: &A,
    w: Record,
    params: &Params,
    input_shape: &[i64],
    opts: &AnnotationOptions,
) -> Result<Record> {
    let device = w.image.device();
    let g = match gated_geometry(aug, input_shape, params, w.point_kind(), device) {
        Ok(g) => g,
        // A step that annotations cannot go through (RandomJigsaw: its patches move apart)
        // inverts the image and masks of a record without them.
        Err(Error::Annotation { .. }) if !w.has_points() => Geometry::None,
        Err(e) => return Err(e),
    };
    if let (Geometry::Matrix(t), Device::Cpu) = (&g, device) {
        // On the CPU the check costs no device synchronisation.
        if let Err(Error::NotInvertible { why, .. }) = t.f_checked_inverse() {
            return Err(Error::NotInvertible {
                op: aug.name(),
                why: format!("{why} (its params give no inverse)"),
            });
        }
    }
    let image = match aug.f_inverse(&w.image, params, input_shape) {
        Ok(x) => x,
        // Intensity steps stay applied, as Kornia's inverse leaves them.
        Err(Error::NotInvertible { .. }) => w.image.shallow_clone(),
        Err(e) => return Err(e),
    };
    let masks = match &w.masks {
        Some(m) => Some(gated_mask(
            aug,
            m,
            params,
            &opts.mask_sampling(),
            Some(input_shape),
        )?),
        None => None,
    };
    let (outlines, keypoints) = if w.has_points() {
        let outlines = w.outlines.map(|o| unmap_outlines(&g, &o, opts));
        let keypoints = w.keypoints.map(|k| g.unmap_points(&k));
        (outlines, keypoints)
    } else {
        (None, None)
    };
    Ok(Record {
        image,
        masks,
        outlines,
        keypoints,
        labels: w.labels,
        mixed: w.mixed,
        // What is visible is followed forward only.
        visible: None,
        keypoints_inside: None,
        oriented: w.oriented,
        box_source: w.box_source,
    })
}

/// `aug`'s masks (its inverse's, given `input_shape`), kept as they were where the gate is
/// off.
pub(crate) fn gated_mask<A: Augmentation + ?Sized>(
    aug: &A,
    mask: &Tensor,
    params: &Params,
    how: &MaskSampling,
    input_shape: Option<&[i64]>,
) -> Result<Tensor> {
    let out = match input_shape {
        None => aug.apply_mask(mask, params, how)?,
        Some(shape) => aug.inverse_mask(mask, params, shape, how)?,
    };
    if aug.probabilities() == (1.0, 1.0) || out.size() != mask.size() {
        return Ok(out);
    }
    gate_blend(&out, mask, params, aug.name())
}

/// The sampling of masks for a step with image sampling `s`: `how`'s interpolation, the
/// step's padding (as Kornia; a `Fill` padding gives masks zeros), the step's
/// `align_corners` unless `how` sets it.
pub(crate) fn mask_sampling(s: Option<Sampling>, how: &MaskSampling) -> Sampling {
    let s = s.unwrap_or_default();
    Sampling {
        resample: how.resample,
        padding: match s.padding {
            warp::Padding::Fill => warp::Padding::Zeros,
            p => p,
        },
        align_corners: how.align_corners.unwrap_or(s.align_corners),
        fill: None,
    }
}

/// Warps `output` back onto `input_shape` through the inverse of `g`.
pub(crate) fn inverse_by_geometry(
    op: &'static str,
    g: &Geometry,
    output: &Tensor,
    input_shape: &[i64],
    s: &Sampling,
) -> Result<Tensor> {
    match g {
        Geometry::Matrix(t) => warp::warp(output, &t.inverse(), warp::spatial(input_shape), s),
        Geometry::Dense(f) => warp::sample(output, &f.inverse().to_grid(s.align_corners), s),
        Geometry::None => Err(Error::NotInvertible {
            op,
            why: "it changes no coordinates (an intensity augmentation)".into(),
        }),
    }
}

/// Maps box outlines (B,N,P,d) and keypoints (B,N,d) through `g`.
pub(crate) fn map_working_points(
    g: &Geometry,
    outlines: Option<Tensor>,
    keypoints: Option<Tensor>,
    opts: &AnnotationOptions,
) -> (Option<Tensor>, Option<Tensor>) {
    let outlines = outlines.map(|o| {
        let o = match g {
            Geometry::Dense(_) if o.size()[2] == 4 && o.size()[3] == 2 => annotations::densify(&o),
            _ => o,
        };
        let s = o.size();
        let mapped = g
            .map_points(&o.reshape([s[0], s[1] * s[2], s[3]]))
            .reshape(s.as_slice());
        match opts.box_mode {
            annotations::BoxMode::Corners => mapped,
            annotations::BoxMode::Kornia => {
                crate::geometry::box_corners(&crate::geometry::enclosure(&mapped))
            }
        }
    });
    let keypoints = keypoints.map(|k| g.map_points(&k));
    (outlines, keypoints)
}

/// Maps outlines back through `g` (Kornia mode: the enclosure of the mapped corners).
fn unmap_outlines(g: &Geometry, o: &Tensor, opts: &AnnotationOptions) -> Tensor {
    let s = o.size();
    let mapped = g
        .unmap_points(&o.reshape([s[0], s[1] * s[2], s[3]]))
        .reshape(s.as_slice());
    match (opts.box_mode, g) {
        (_, Geometry::None) => mapped,
        (annotations::BoxMode::Corners, _) => mapped,
        (annotations::BoxMode::Kornia, _) => {
            crate::geometry::box_corners(&crate::geometry::enclosure(&mapped))
        }
    }
}

/// Validates an image input and the augmentation's shape constraints.
pub(crate) fn batched<A: Augmentation + ?Sized>(aug: &A, input: &Tensor) -> Result<Batched> {
    let b = checks::input(aug.name(), &as_float(aug, input)?, aug.spatial_dims())?;
    aug.check_shape(&b.x.size())?;
    Ok(b)
}

/// A uint8 input as float32 `x / 255` (one pass) where `aug` accepts it; else `input`.
fn as_float<A: Augmentation + ?Sized>(aug: &A, input: &Tensor) -> Result<Tensor> {
    if input.kind() == Kind::Uint8 && aug.accepts_uint8() {
        Ok(input.f_div_scalar(255.0)?)
    } else {
        Ok(input.shallow_clone())
    }
}

/// A record whose uint8 image `aug` accepts, with the image as float32 `x / 255`.
fn float_batch<A: Augmentation + ?Sized>(aug: &A, batch: &Batch) -> Result<Batch> {
    let mut b = batch.clone();
    b.image = as_float(aug, &batch.image)?;
    Ok(b)
}

/// [`AugmentationExt::f_geometry`] without its check of the params' values: for the crate's
/// own callers, whose params were just drawn or were checked at the public entry point.
pub(crate) fn gated_geometry<A: Augmentation + ?Sized>(
    aug: &A,
    input_shape: &[i64],
    params: &Params,
    kind: Kind,
    device: Device,
) -> Result<Geometry> {
    let shape = batched_shape(aug, input_shape)?;
    let g = aug.geometry_ungated(&shape, params, kind, device)?;
    if aug.probabilities() == (1.0, 1.0) || matches!(g, Geometry::None) {
        return Ok(g);
    }
    let on = params.shaped(aug.name(), "batch_prob", &shape[..1])?;
    Ok(g.gated(on))
}

/// [`AugmentationExt::f_transform`] without its check of the params' values (as
/// [`gated_geometry`]).
pub(crate) fn gated_transform<A: Augmentation + ?Sized>(
    aug: &A,
    input_shape: &[i64],
    params: &Params,
    kind: Kind,
    device: Device,
) -> Result<Transform> {
    match gated_geometry(aug, input_shape, params, kind, device)? {
        Geometry::None => {
            let shape = batched_shape(aug, input_shape)?;
            Ok(Transform::identity(
                shape[0],
                aug.spatial_dims(),
                kind,
                device,
            ))
        }
        Geometry::Matrix(t) => Ok(t),
        Geometry::Dense(_) => Err(Error::NotAMatrix { op: aug.name() }),
    }
}

/// On the CPU, refuses a replay whose output is non-finite for a finite input of image
/// magnitude (|x| <= 1e3; nothing is read back from a GPU). Other inputs are not checked: a
/// NaN is carried into other samples by mixing on purpose, and a finite 1e30 times a valid
/// factor may rightly overflow.
pub(crate) fn check_replay_output(op: &'static str, input: &Tensor, output: &Tensor) -> Result<()> {
    let image_like = || {
        input.numel() == 0
            || bool::try_from(input.isfinite().all()).unwrap_or(false)
                && input.abs().max().double_value(&[]) <= 1e3
    };
    if input.device() != Device::Cpu || output.dim() == 0 || !image_like() {
        return Ok(());
    }
    let bad = output
        .isfinite()
        .flatten(1, -1)
        .all_dim(1, false)
        .logical_not();
    if !bool::try_from(bad.any()).unwrap_or(false) {
        return Ok(());
    }
    let samples = Vec::<i64>::try_from(bad.nonzero().view([-1])).unwrap_or_default();
    Err(Error::NonFinite { op, samples })
}

/// Checks replayed `params` (finite on the CPU) and the `input_shape` asked for with them
/// (against what they record: [`checks::against_params`]).
fn replay_shape<A: Augmentation + ?Sized>(
    aug: &A,
    input_shape: &[i64],
    params: &Params,
) -> Result<()> {
    params.check_finite(aug.name())?;
    checks::against_params(aug.name(), params, &batched_shape(aug, input_shape)?, None)
}

/// `input_shape` with a batch dimension, after checking its rank, its sizes (at least 1) and
/// its element count ([`checks::fits`]).
pub(crate) fn batched_shape<A: Augmentation + ?Sized>(
    aug: &A,
    input_shape: &[i64],
) -> Result<Vec<i64>> {
    let dims = aug.spatial_dims();
    let shape: Vec<i64> = if input_shape.len() == dims + 1 {
        [&[1], input_shape].concat()
    } else {
        input_shape.to_vec()
    };
    if shape.len() != dims + 2 {
        return Err(Error::Rank {
            op: aug.name(),
            expected: if dims == 3 {
                "4 (C,D,H,W) or 5 (B,C,D,H,W) for input_shape"
            } else {
                "3 (C,H,W) or 4 (B,C,H,W) for input_shape"
            },
            shape: input_shape.to_vec(),
        });
    }
    if shape.iter().any(|&s| s < 1) {
        return Err(Error::Empty {
            op: aug.name(),
            shape: input_shape.to_vec(),
        });
    }
    checks::fits(aug.name(), "input_shape", &shape)?;
    Ok(shape)
}

/// Where `batch_prob` is set, `transformed`; elsewhere `original`, bit for bit.
/// Whether a step may leave samples untransformed (a gate other than p = 1).
pub(crate) fn gated_apply_needed<A: Augmentation + ?Sized>(aug: &A) -> bool {
    aug.probabilities() != (1.0, 1.0)
}

pub(crate) fn gate_blend(
    transformed: &Tensor,
    original: &Tensor,
    params: &Params,
    op: &'static str,
) -> Result<Tensor> {
    let b = original.size()[0];
    if transformed.size() != original.size() {
        return Err(checks::config(
            op,
            "p",
            "< 1",
            "p = 1 for augmentations that change the image size",
        ));
    }
    let mut view = vec![1i64; original.dim()];
    view[0] = -1;
    let on = params
        .shaped(op, "batch_prob", &[b])?
        .to_device(original.device())
        .gt(0.5)
        .view(view.as_slice());
    Ok(transformed.where_self(&on, original))
}

/// A layer that augments in training and not in evaluation: implements
/// [`nn::ModuleT`] alone, for `nn::seq_t()` loops.
///
/// With `train = false` it runs [`AugmentationExt::f_forward_eval`]: a random augmentation is
/// the identity (the input is returned as a shallow clone); deterministic ones (Normalize,
/// Denormalize, CenterCrop) still apply, inside a [`crate::Sequential`] too.
#[derive(Debug)]
pub struct TrainOnly<A>(pub A);

impl<A: Augmentation> nn::ModuleT for TrainOnly<A> {
    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        crate::error::or_panic(if train {
            self.0.f_forward(xs)
        } else {
            self.0.f_forward_eval(xs)
        })
    }
}

/// Implements [`tch::nn::Module`] (always augments, as Kornia does) for augmentation types.
macro_rules! impl_module {
    ($($t:ty),* $(,)?) => {$(
        impl tch::nn::Module for $t {
            fn forward(&self, xs: &tch::Tensor) -> tch::Tensor {
                $crate::error::or_panic($crate::AugmentationExt::f_forward(self, xs))
            }
        }
    )*};
}
pub(crate) use impl_module;

// The mixing capability: at the trait's layer, since the trait hands it out (`as_mix`) and
// a record's labels go through it.

/// An augmentation that mixes samples of a batch and so must mix their labels too.
///
/// The provided methods validate the labels (integer kind, shape (B,)), apply the batch
/// gate to images and labels alike (a gated-off batch keeps its images and gets `[y, y, 0]`
/// rows), and return Kornia's label tensor.
pub trait MixAugmentation: Augmentation {
    /// Which label `λ` weighs in [`MixAugmentation::mix_labels`]'s output.
    fn lambda_weight(&self) -> LambdaWeight;

    /// The mixed labels for validated integer `labels` (B,), ignoring the gate, in `kind`.
    fn mix_labels(&self, labels: &Tensor, params: &Params, kind: Kind) -> Result<Tensor>;

    /// The labels of an unmixed batch: `[y, y, 0]` rows, in the output layout.
    fn unmixed_labels(&self, labels: &Tensor, kind: Kind) -> Tensor;

    /// Draws parameters and mixes `input` (B,C,H,W) or (C,H,W) and `labels` (B,).
    ///
    /// # Errors
    /// Input errors as [`AugmentationExt::f_forward_with_params`]; [`Error::Labels`] for
    /// labels that are not an integer (B,) tensor.
    fn f_forward_with_labels_and_params(
        &self,
        input: &Tensor,
        labels: &Tensor,
    ) -> Result<(Tensor, Tensor, Params)> {
        let b = checks::input(self.name(), input, 2)?;
        check_labels(self.name(), labels, b.x.size()[0])?;
        let params = self.sample(&b.x.size(), b.x.device())?;
        // The replay's mixing without its checks: these params were just drawn.
        let x = b.restore(self.gated_apply(&b.x, &params)?);
        let y = mixed_labels(self, labels, input, &params)?;
        Ok((x, y, params))
    }

    /// [`MixAugmentation::f_forward_with_labels_and_params`] without the params.
    ///
    /// # Errors
    /// As [`MixAugmentation::f_forward_with_labels_and_params`].
    fn f_forward_with_labels(&self, input: &Tensor, labels: &Tensor) -> Result<(Tensor, Tensor)> {
        let (x, y, _) = self.f_forward_with_labels_and_params(input, labels)?;
        Ok((x, y))
    }

    /// Replays `params` on `input` and `labels`.
    ///
    /// # Errors
    /// As [`MixAugmentation::f_forward_with_labels_and_params`], plus [`Error::Params`].
    fn f_apply_with_labels(
        &self,
        input: &Tensor,
        labels: &Tensor,
        params: &Params,
    ) -> Result<(Tensor, Tensor)> {
        let batch = checks::input(self.name(), input, 2)?.x.size()[0];
        check_labels(self.name(), labels, batch)?;
        let x = self.f_apply(input, params)?;
        Ok((x, mixed_labels(self, labels, input, params)?))
    }

    /// Panicking form of [`MixAugmentation::f_forward_with_labels`].
    fn forward_with_labels(&self, input: &Tensor, labels: &Tensor) -> (Tensor, Tensor) {
        crate::error::or_panic(self.f_forward_with_labels(input, labels))
    }

    /// The soft-target cross-entropy of `logits` (B,K) against this augmentation's mixed
    /// labels: [`mix_cross_entropy`] with [`MixAugmentation::lambda_weight`].
    ///
    /// # Errors
    /// As [`mix_cross_entropy`].
    fn f_cross_entropy(&self, logits: &Tensor, mixed_labels: &Tensor) -> Result<Tensor> {
        mix_cross_entropy(logits, mixed_labels, self.lambda_weight())
    }
}

/// The labels `params` give `labels` (moved to the input's device), in the input's kind.
fn mixed_labels<M: MixAugmentation + ?Sized>(
    aug: &M,
    labels: &Tensor,
    input: &Tensor,
    params: &Params,
) -> Result<Tensor> {
    let labels = labels.to_device(input.device());
    Ok(gated_mixed_labels(aug, &labels, params, input.kind())?.labels)
}

/// The mixed labels of `labels` (B,) (checked), with the batch gate applied: a gated-off
/// batch gets `[y, y, 0]` rows.
pub(crate) fn gated_mixed_labels<M: MixAugmentation + ?Sized>(
    mix: &M,
    labels: &Tensor,
    params: &Params,
    kind: Kind,
) -> Result<crate::MixedLabels> {
    let batch = labels.size().first().copied().unwrap_or(0);
    check_labels(mix.name(), labels, batch)?;
    let mixed = mix.mix_labels(labels, params, kind)?;
    let on = params
        .shaped(mix.name(), "batch_prob", &[batch])?
        .to_device(labels.device())
        .gt(0.5);
    let mut view = vec![1i64; mixed.dim()];
    view[mixed.dim() - 2] = -1;
    let labels = mixed.where_self(&on.view(view.as_slice()), &mix.unmixed_labels(labels, kind));
    Ok(crate::MixedLabels {
        labels,
        weight: mix.lambda_weight(),
    })
}

/// Integer labels of shape (B,).
fn check_labels(op: &'static str, labels: &Tensor, batch: i64) -> Result<()> {
    let shape = labels.size();
    if shape != [batch] {
        return Err(Error::Labels {
            op,
            problem: format!("have shape {shape:?}; expected ({batch},), one class id per sample"),
        });
    }
    match labels.kind() {
        Kind::Int64 | Kind::Int | Kind::Int16 | Kind::Int8 | Kind::Uint8 => Ok(()),
        kind => Err(Error::Labels {
            op,
            problem: format!("have kind {kind:?}; expected integer class ids (int64, int32, ...)"),
        }),
    }
}
