//! The pipeline description (JSON) and the sequential container.

use crate::geometric::{
    CenterCrop, CenterCropConfig, ElasticConfig, FisheyeConfig, FlipConfig, PadTo, PadToConfig,
    PerspectiveConfig, RandomAffine, RandomAffineConfig, RandomCrop, RandomCropConfig,
    RandomElasticTransform, RandomFisheye, RandomHorizontalFlip, RandomPerspective,
    RandomResizedCrop, RandomResizedCropConfig, RandomRotation, RandomRotation90,
    RandomRotationConfig, RandomShear, RandomThinPlateSpline, RandomTranslate, RandomVerticalFlip,
    Resize, ResizeConfig, Rotation90Config, ShearConfig, ThinPlateSplineConfig, TranslateConfig,
};
use crate::intensity::{
    AutoContrastConfig, BoxBlurConfig, ChannelDropoutConfig, ChannelShuffleConfig, ColorJiggle,
    ColorJitter, Denormalize, EqualizeConfig, ErasingConfig, FactorConfig, GammaConfig,
    GaussianBlurConfig, GaussianNoiseConfig, InvertConfig, JitterConfig, MedianBlurConfig,
    MotionBlurConfig, Normalize, NormalizeConfig, PlanckianConfig, PosterizeConfig,
    RandomAutoContrast, RandomBoxBlur, RandomBrightness, RandomChannelDropout,
    RandomChannelShuffle, RandomContrast, RandomEqualize, RandomErasing, RandomGamma,
    RandomGaussianBlur, RandomGaussianNoise, RandomGrayscale, RandomGrayscaleConfig, RandomHue,
    RandomInvert, RandomMedianBlur, RandomMotionBlur, RandomPlanckianJitter, RandomPosterize,
    RandomRGBShift, RandomSaltAndPepperNoise, RandomSaturation, RandomSharpness, RandomSolarize,
    RgbShiftConfig, SaltAndPepperConfig, SharpnessConfig, SolarizeConfig,
};
use crate::mix::{CutMixConfig, MixUpConfig, RandomCutMix, RandomMixUp};
use crate::volume::{
    Affine3DConfig, CenterCrop3D, CenterCrop3DConfig, Equalize3DConfig, MotionBlur3DConfig,
    Perspective3DConfig, RandomAffine3D, RandomCrop3D, RandomCrop3DConfig, RandomDepthicalFlip3D,
    RandomEqualize3D, RandomHorizontalFlip3D, RandomMotionBlur3D, RandomPerspective3D,
    RandomRotation3D, RandomVerticalFlip3D, Rotation3DConfig,
};
use crate::{Augmentation, Params, Result};
use serde::{Deserialize, Serialize};
use tch::{nn, Device, Kind, Tensor};

/// A serialisable description of one augmentation: its Kornia class name and config.
///
/// A pipeline's structure round-trips through JSON as a list of these; its learnable
/// state lives in the `VarStore` (`vs.save` / `vs.load`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub enum AugSpec {
    RandomAffine(RandomAffineConfig),
    RandomRotation(RandomRotationConfig),
    RandomHorizontalFlip(FlipConfig),
    RandomVerticalFlip(FlipConfig),
    RandomCrop(RandomCropConfig),
    CenterCrop(CenterCropConfig),
    RandomResizedCrop(RandomResizedCropConfig),
    RandomPerspective(PerspectiveConfig),
    RandomShear(ShearConfig),
    RandomTranslate(TranslateConfig),
    RandomRotation90(Rotation90Config),
    Resize(ResizeConfig),
    PadTo(PadToConfig),
    RandomFisheye(FisheyeConfig),
    RandomElasticTransform(ElasticConfig),
    RandomThinPlateSpline(ThinPlateSplineConfig),
    ColorJitter(JitterConfig),
    ColorJiggle(JitterConfig),
    Normalize(NormalizeConfig),
    Denormalize(NormalizeConfig),
    RandomGrayscale(RandomGrayscaleConfig),
    RandomSolarize(SolarizeConfig),
    RandomErasing(ErasingConfig),
    RandomEqualize(EqualizeConfig),
    RandomBrightness(FactorConfig),
    RandomContrast(FactorConfig),
    RandomSaturation(FactorConfig),
    RandomHue(FactorConfig),
    RandomGamma(GammaConfig),
    RandomInvert(InvertConfig),
    RandomGaussianBlur(GaussianBlurConfig),
    RandomBoxBlur(BoxBlurConfig),
    RandomChannelShuffle(ChannelShuffleConfig),
    RandomGaussianNoise(GaussianNoiseConfig),
    RandomPosterize(PosterizeConfig),
    RandomAutoContrast(AutoContrastConfig),
    RandomChannelDropout(ChannelDropoutConfig),
    RandomRGBShift(RgbShiftConfig),
    RandomSaltAndPepperNoise(SaltAndPepperConfig),
    RandomMedianBlur(MedianBlurConfig),
    RandomMotionBlur(MotionBlurConfig),
    RandomPlanckianJitter(PlanckianConfig),
    RandomSharpness(SharpnessConfig),
    CenterCrop3D(CenterCrop3DConfig),
    RandomCrop3D(RandomCrop3DConfig),
    RandomAffine3D(Affine3DConfig),
    RandomRotation3D(Rotation3DConfig),
    RandomPerspective3D(Perspective3DConfig),
    RandomHorizontalFlip3D(FlipConfig),
    RandomVerticalFlip3D(FlipConfig),
    RandomDepthicalFlip3D(FlipConfig),
    RandomMotionBlur3D(MotionBlur3DConfig),
    RandomEqualize3D(Equalize3DConfig),
    /// Images only; [`crate::MixAugmentation`] mixes the labels too.
    RandomMixUp(MixUpConfig),
    /// Images only; [`crate::MixAugmentation`] mixes the labels too.
    RandomCutMix(CutMixConfig),
    /// A nested [`Sequential`].
    Sequential(Vec<AugSpec>),
}

impl AugSpec {
    /// Builds the augmentation, its variables under `path`.
    ///
    /// # Errors
    /// The config's validation error.
    pub fn build(&self, path: &nn::Path) -> Result<Box<dyn Augmentation>> {
        Ok(match self.clone() {
            AugSpec::RandomAffine(c) => Box::new(RandomAffine::new(path, c)?),
            AugSpec::RandomRotation(c) => Box::new(RandomRotation::new(path, c)?),
            AugSpec::RandomHorizontalFlip(c) => Box::new(RandomHorizontalFlip::new(path, c)?),
            AugSpec::RandomVerticalFlip(c) => Box::new(RandomVerticalFlip::new(path, c)?),
            AugSpec::RandomCrop(c) => Box::new(RandomCrop::new(path, c)?),
            AugSpec::CenterCrop(c) => Box::new(CenterCrop::new(path, c)?),
            AugSpec::RandomResizedCrop(c) => Box::new(RandomResizedCrop::new(path, c)?),
            AugSpec::RandomPerspective(c) => Box::new(RandomPerspective::new(path, c)?),
            AugSpec::RandomShear(c) => Box::new(RandomShear::new(path, c)?),
            AugSpec::RandomTranslate(c) => Box::new(RandomTranslate::new(path, c)?),
            AugSpec::RandomRotation90(c) => Box::new(RandomRotation90::new(path, c)?),
            AugSpec::Resize(c) => Box::new(Resize::new(path, c)?),
            AugSpec::PadTo(c) => Box::new(PadTo::new(path, c)?),
            AugSpec::RandomFisheye(c) => Box::new(RandomFisheye::new(path, c)?),
            AugSpec::RandomElasticTransform(c) => Box::new(RandomElasticTransform::new(path, c)?),
            AugSpec::RandomThinPlateSpline(c) => Box::new(RandomThinPlateSpline::new(path, c)?),
            AugSpec::ColorJitter(c) => Box::new(ColorJitter::new(path, c)?),
            AugSpec::ColorJiggle(c) => Box::new(ColorJiggle::new(path, c)?),
            AugSpec::Normalize(c) => Box::new(Normalize::new(path, c)?),
            AugSpec::Denormalize(c) => Box::new(Denormalize::new(path, c)?),
            AugSpec::RandomGrayscale(c) => Box::new(RandomGrayscale::new(path, c)?),
            AugSpec::RandomSolarize(c) => Box::new(RandomSolarize::new(path, c)?),
            AugSpec::RandomErasing(c) => Box::new(RandomErasing::new(path, c)?),
            AugSpec::RandomEqualize(c) => Box::new(RandomEqualize::new(path, c)?),
            AugSpec::RandomBrightness(c) => Box::new(RandomBrightness::new(path, c)?),
            AugSpec::RandomContrast(c) => Box::new(RandomContrast::new(path, c)?),
            AugSpec::RandomSaturation(c) => Box::new(RandomSaturation::new(path, c)?),
            AugSpec::RandomHue(c) => Box::new(RandomHue::new(path, c)?),
            AugSpec::RandomGamma(c) => Box::new(RandomGamma::new(path, c)?),
            AugSpec::RandomInvert(c) => Box::new(RandomInvert::new(path, c)?),
            AugSpec::RandomGaussianBlur(c) => Box::new(RandomGaussianBlur::new(path, c)?),
            AugSpec::RandomBoxBlur(c) => Box::new(RandomBoxBlur::new(path, c)?),
            AugSpec::RandomChannelShuffle(c) => Box::new(RandomChannelShuffle::new(path, c)?),
            AugSpec::RandomGaussianNoise(c) => Box::new(RandomGaussianNoise::new(path, c)?),
            AugSpec::RandomPosterize(c) => Box::new(RandomPosterize::new(path, c)?),
            AugSpec::RandomAutoContrast(c) => Box::new(RandomAutoContrast::new(path, c)?),
            AugSpec::RandomChannelDropout(c) => Box::new(RandomChannelDropout::new(path, c)?),
            AugSpec::RandomRGBShift(c) => Box::new(RandomRGBShift::new(path, c)?),
            AugSpec::RandomSaltAndPepperNoise(c) => {
                Box::new(RandomSaltAndPepperNoise::new(path, c)?)
            }
            AugSpec::RandomMedianBlur(c) => Box::new(RandomMedianBlur::new(path, c)?),
            AugSpec::RandomMotionBlur(c) => Box::new(RandomMotionBlur::new(path, c)?),
            AugSpec::RandomPlanckianJitter(c) => Box::new(RandomPlanckianJitter::new(path, c)?),
            AugSpec::RandomSharpness(c) => Box::new(RandomSharpness::new(path, c)?),
            AugSpec::CenterCrop3D(c) => Box::new(CenterCrop3D::new(path, c)?),
            AugSpec::RandomCrop3D(c) => Box::new(RandomCrop3D::new(path, c)?),
            AugSpec::RandomAffine3D(c) => Box::new(RandomAffine3D::new(path, c)?),
            AugSpec::RandomRotation3D(c) => Box::new(RandomRotation3D::new(path, c)?),
            AugSpec::RandomPerspective3D(c) => Box::new(RandomPerspective3D::new(path, c)?),
            AugSpec::RandomHorizontalFlip3D(c) => Box::new(RandomHorizontalFlip3D::new(path, c)?),
            AugSpec::RandomVerticalFlip3D(c) => Box::new(RandomVerticalFlip3D::new(path, c)?),
            AugSpec::RandomDepthicalFlip3D(c) => Box::new(RandomDepthicalFlip3D::new(path, c)?),
            AugSpec::RandomMotionBlur3D(c) => Box::new(RandomMotionBlur3D::new(path, c)?),
            AugSpec::RandomEqualize3D(c) => Box::new(RandomEqualize3D::new(path, c)?),
            AugSpec::RandomMixUp(c) => Box::new(RandomMixUp::new(path, c)?),
            AugSpec::RandomCutMix(c) => Box::new(RandomCutMix::new(path, c)?),
            AugSpec::Sequential(s) => Box::new(Sequential::new(path, &s)?),
        })
    }
}

/// Applies augmentations in order (Kornia's `AugmentationSequential` for images).
///
/// Its params hold step `i`'s entries under `"{i}.{key}"`; replaying them reproduces the
/// output exactly, and [`Augmentation::f_inverse`] undoes the geometric steps in reverse.
/// Step `i`'s variables live under `path / i`, so a pipeline rebuilt from its JSON loads the
/// same `VarStore` file.
///
/// # Shapes
/// Input (B,C,H,W) or (C,H,W); output as the last step makes it.
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
    steps: Vec<Box<dyn Augmentation>>,
}

const SEQ: &str = "AugmentationSequential";

impl Sequential {
    /// Builds each spec under `path / i`.
    ///
    /// # Errors
    /// The first config validation error.
    pub fn new(path: &nn::Path, specs: &[AugSpec]) -> Result<Sequential> {
        let steps = specs
            .iter()
            .enumerate()
            .map(|(i, s)| s.build(&(path / i.to_string())))
            .collect::<Result<Vec<_>>>()?;
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
        Ok(Sequential { steps })
    }

    /// Rebuilds a pipeline from [`Sequential::to_json`]'s output.
    ///
    /// # Errors
    /// [`crate::Error::Json`] for malformed JSON, or a config validation error.
    pub fn from_json(path: &nn::Path, json: &str) -> Result<Sequential> {
        let specs: Vec<AugSpec> = serde_json::from_str(json)?;
        Sequential::new(path, &specs)
    }

    /// The pipeline's structure as JSON (a list of [`AugSpec`]).
    ///
    /// # Errors
    /// [`crate::Error::Json`] (not expected for these types).
    pub fn to_json(&self) -> Result<String> {
        Ok(serde_json::to_string_pretty(&self.specs())?)
    }

    /// The specs of the steps.
    pub fn specs(&self) -> Vec<AugSpec> {
        self.steps.iter().map(|s| s.spec()).collect()
    }

    /// The steps.
    pub fn steps(&self) -> &[Box<dyn Augmentation>] {
        &self.steps
    }

    /// The shapes entering each step, and the final one.
    fn shapes(&self, shape: &[i64]) -> Vec<Vec<i64>> {
        let mut out = vec![shape.to_vec()];
        for s in &self.steps {
            let next = s.output_shape(out.last().expect("non-empty"));
            out.push(next);
        }
        out
    }
}

impl Augmentation for Sequential {
    fn name(&self) -> &'static str {
        SEQ
    }

    fn spec(&self) -> AugSpec {
        AugSpec::Sequential(self.specs())
    }

    fn spatial_dims(&self) -> usize {
        self.steps.first().map_or(2, |s| s.spatial_dims())
    }

    fn is_random(&self) -> bool {
        self.steps.iter().any(|s| s.is_random())
    }

    fn output_shape(&self, shape: &[i64]) -> Vec<i64> {
        self.shapes(shape).pop().expect("non-empty")
    }

    fn check_shape(&self, shape: &[i64]) -> Result<()> {
        let shapes = self.shapes(shape);
        for (s, sh) in self.steps.iter().zip(&shapes) {
            s.check_shape(sh)?;
        }
        Ok(())
    }

    fn sample(&self, shape: &[i64], device: Device) -> Result<Params> {
        let mut params = Params::new();
        for (i, (s, sh)) in self.steps.iter().zip(self.shapes(shape)).enumerate() {
            params.extend_prefixed(&i.to_string(), &s.sample(&sh, device)?);
        }
        Ok(params)
    }

    fn apply_transform(&self, input: &Tensor, params: &Params) -> Result<Tensor> {
        let mut x = input.shallow_clone();
        for (i, s) in self.steps.iter().enumerate() {
            s.check_shape(&x.size())?;
            x = s.gated_apply(&x, &params.sub(&i.to_string()))?;
        }
        Ok(x)
    }

    fn transform_matrix_ungated(
        &self,
        shape: &[i64],
        params: &Params,
        kind: Kind,
        device: Device,
    ) -> Result<Option<Tensor>> {
        let mut total: Option<Tensor> = None;
        for (i, (s, sh)) in self.steps.iter().zip(self.shapes(shape)).enumerate() {
            if let Some(m) = s.f_transform_matrix(&sh, &params.sub(&i.to_string()), kind, device)? {
                total = Some(match total {
                    Some(t) => m.matmul(&t),
                    None => m,
                });
            }
        }
        let n = self.spatial_dims() as i64 + 1;
        Ok(total.or_else(|| Some(Tensor::eye(n, (kind, device)).expand([shape[0], n, n], false))))
    }

    fn inverse_transform(
        &self,
        output: &Tensor,
        params: &Params,
        input_shape: &[i64],
    ) -> Result<Tensor> {
        let shapes = self.shapes(input_shape);
        let mut y = output.shallow_clone();
        for (i, s) in self.steps.iter().enumerate().rev() {
            let sub = params.sub(&i.to_string());
            match s.f_inverse(&y, &sub, &shapes[i]) {
                Ok(v) => y = v,
                // Intensity steps have no inverse; Kornia skips them too.
                Err(crate::Error::NotInvertible { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(y)
    }
}

crate::augmentation::impl_module!(Sequential);
