//! The operator registry: one table names every operator once and generates the
//! serialisable [`AugSpec`], its builder and the list of names ([`AugSpec::NAMES`]) that the
//! tests check their coverage against. A new operator is its own file plus one line here.
//!
//! A user's own augmentation joins a pipeline directly ([`crate::Sequential::from_steps`]),
//! and through JSON once its constructor is registered ([`register_augmentation`]); its
//! spec is then [`AugSpec::Custom`].

// Every family's operators and configs, so that a new one needs no import here.
use crate::auto::*;
use crate::container::{Sequential, SequentialConfig};
use crate::geometric::*;
use crate::intensity::*;
pub use crate::kornia::kwargs::Reference;
use crate::kornia::kwargs::{FromKornia, Kwargs};
use crate::mix::*;
use crate::volume::*;
use crate::{Augmentation, Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use tch::nn;

/// Generates [`AugSpec`] (one variant per row, named after the operator's type), its
/// builder (`Type::new(path, config)`) and [`AugSpec::NAMES`].
macro_rules! registry {
    ($($(#[$meta:meta])* $variant:ident($cfg:ty) => $ty:ty $([$($req:ident),*])?;)*) => {
        /// A serialisable description of one augmentation: its type name and config.
        ///
        /// A pipeline's structure round-trips through JSON as these; its learnable state
        /// lives in the `VarStore` (`vs.save` / `vs.load`). In JSON, a config names only the
        /// fields it knows (a misspelt one is an error that lists them) and must give the
        /// ones Kornia's constructor requires (`degrees` of RandomAffine, `size` of the
        /// crops, ...); the others default to Kornia's values.
        #[derive(Debug, Clone, PartialEq, Serialize)]
        pub enum AugSpec {
            $(
                $(#[$meta])*
                #[doc = concat!("[`", stringify!($ty), "`].")]
                $variant($cfg),
            )*
            /// A user's augmentation, built by the constructor registered under its name
            /// ([`register_augmentation`]).
            Custom(CustomSpec),
        }

        /// [`AugSpec`]'s serde form, read after the required fields are checked.
        #[derive(Deserialize)]
        enum AugSpecRepr {
            $($variant($cfg),)*
            Custom(CustomSpec),
        }

        /// Kornia's `class` through its operator's [`FromKornia`] (next to its config), under
        /// the registry's name or one of Kornia's aliases; `None` for a class not here.
        pub(crate) fn from_kornia_registered(class: &str, kw: &Kwargs) -> Option<Result<AugSpec>> {
            $(
                if class == stringify!($variant)
                    || <$ty as FromKornia>::KORNIA_ALIASES.contains(&class)
                {
                    return Some(<$ty as FromKornia>::from_kornia(kw).map(AugSpec::$variant));
                }
            )*
            None
        }

        impl AugSpec {
            /// The name of every operator in the registry (the variants but `Custom`).
            pub const NAMES: &'static [&'static str] = &[$(stringify!($variant)),*];

            /// The library the operator `name` reproduces number for number (`None` for a
            /// name not in the registry).
            pub fn reference(name: &str) -> Option<Reference> {
                match name {
                    $(stringify!($variant) => Some(<$ty as FromKornia>::REFERENCE),)*
                    _ => None,
                }
            }

            /// The fields of the operator `name`'s config that JSON must give (Kornia's
            /// required constructor arguments).
            pub fn required_fields(name: &str) -> &'static [&'static str] {
                match name {
                    $(stringify!($variant) => &[$($(stringify!($req)),*)?],)*
                    _ => &[],
                }
            }

            /// The operator's name: the variant's (for `Custom`, the registered name).
            pub fn name(&self) -> &str {
                match self {
                    $(AugSpec::$variant(_) => stringify!($variant),)*
                    AugSpec::Custom(c) => &c.name,
                }
            }

            /// Builds the augmentation, its variables under `path`.
            ///
            /// # Errors
            /// The config's validation error; [`Error::Config`] for a custom name that was
            /// never registered.
            pub fn build(&self, path: &nn::Path) -> Result<Box<dyn Augmentation>> {
                // Before the clone below, which recurses: a spec nested too deep is refused
                // without recursion.
                if let AugSpec::Sequential(c) = self {
                    crate::container::check_nesting(&c.steps)?;
                }
                Ok(match self.clone() {
                    $(AugSpec::$variant(c) => Box::new(<$ty>::new(path, c)?),)*
                    AugSpec::Custom(c) => build_custom(path, &c)?,
                })
            }
        }

        impl<'de> Deserialize<'de> for AugSpec {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
                use serde::de::Error as _;
                let value = serde_json::Value::deserialize(d)?;
                // Unknown names and fields first (their message lists the allowed ones).
                let name = value
                    .as_object()
                    .filter(|m| m.len() == 1)
                    .and_then(|m| m.keys().next().cloned());
                let repr: AugSpecRepr = serde_json::from_value(value.clone()).map_err(|e| {
                    match &name {
                        Some(n) if AugSpec::NAMES.contains(&n.as_str()) => {
                            D::Error::custom(format!("{n}: {e}"))
                        }
                        _ => D::Error::custom(e),
                    }
                })?;
                if let Some((name, cfg)) = value.as_object().filter(|m| m.len() == 1).and_then(|m| m.iter().next()) {
                    for field in AugSpec::required_fields(name) {
                        if !cfg.as_object().is_some_and(|c| c.contains_key(*field)) {
                            return Err(D::Error::custom(format!(
                                "{name}: missing field `{field}` (required, as in Kornia's constructor)"
                            )));
                        }
                    }
                }
                Ok(match repr {
                    $(AugSpecRepr::$variant(c) => AugSpec::$variant(c),)*
                    AugSpecRepr::Custom(c) => AugSpec::Custom(c),
                })
            }
        }
    };
}

registry! {
    RandomAffine(RandomAffineConfig) => RandomAffine [degrees];
    RandomRotation(RandomRotationConfig) => RandomRotation [degrees];
    RandomHorizontalFlip(FlipConfig) => RandomHorizontalFlip;
    RandomVerticalFlip(FlipConfig) => RandomVerticalFlip;
    RandomCrop(RandomCropConfig) => RandomCrop [size];
    CenterCrop(CenterCropConfig) => CenterCrop [size];
    RandomResizedCrop(RandomResizedCropConfig) => RandomResizedCrop [size];
    RandomPerspective(PerspectiveConfig) => RandomPerspective;
    RandomJigsaw(JigsawConfig) => RandomJigsaw;
    RandomShear(ShearConfig) => RandomShear [shear];
    RandomTranslate(TranslateConfig) => RandomTranslate;
    RandomRotation90(Rotation90Config) => RandomRotation90 [times];
    Resize(ResizeConfig) => Resize [size];
    LongestMaxSize(MaxSizeConfig) => LongestMaxSize [max_size];
    SmallestMaxSize(MaxSizeConfig) => SmallestMaxSize [max_size];
    PadTo(PadToConfig) => PadTo [size];
    /// torchvision's `ScaleJitter` (Kornia has none).
    ScaleJitter(ScaleJitterConfig) => ScaleJitter [target_size];
    /// torchvision's `RandomShortestSize` (Kornia has none).
    RandomShortestSize(RandomShortestSizeConfig) => RandomShortestSize [min_size];
    /// torchvision's `RandomZoomOut` (Kornia has none).
    RandomZoomOut(RandomZoomOutConfig) => RandomZoomOut;
    /// torchvision's `RandomIoUCrop` (Kornia has none).
    RandomIoUCrop(RandomIoUCropConfig) => RandomIoUCrop;
    RandomFisheye(FisheyeConfig) => RandomFisheye [center_x, center_y, gamma];
    RandomElasticTransform(ElasticConfig) => RandomElasticTransform;
    RandomThinPlateSpline(ThinPlateSplineConfig) => RandomThinPlateSpline;
    ColorJitter(JitterConfig) => ColorJitter;
    ColorJiggle(JitterConfig) => ColorJiggle;
    Normalize(NormalizeConfig) => Normalize [mean, std];
    Denormalize(NormalizeConfig) => Denormalize [mean, std];
    RandomGrayscale(RandomGrayscaleConfig) => RandomGrayscale;
    RandomSolarize(SolarizeConfig) => RandomSolarize;
    RandomErasing(ErasingConfig) => RandomErasing;
    RandomEqualize(EqualizeConfig) => RandomEqualize;
    RandomBrightness(FactorConfig) => RandomBrightness;
    RandomContrast(FactorConfig) => RandomContrast;
    RandomSaturation(FactorConfig) => RandomSaturation;
    RandomHue(FactorConfig) => RandomHue;
    RandomGamma(GammaConfig) => RandomGamma;
    RandomInvert(InvertConfig) => RandomInvert;
    RandomGaussianBlur(GaussianBlurConfig) => RandomGaussianBlur [kernel_size, sigma];
    RandomBoxBlur(BoxBlurConfig) => RandomBoxBlur;
    RandomChannelShuffle(ChannelShuffleConfig) => RandomChannelShuffle;
    RandomGaussianNoise(GaussianNoiseConfig) => RandomGaussianNoise;
    RandomPosterize(PosterizeConfig) => RandomPosterize;
    RandomAutoContrast(AutoContrastConfig) => RandomAutoContrast;
    RandomChannelDropout(ChannelDropoutConfig) => RandomChannelDropout;
    RandomRGBShift(RgbShiftConfig) => RandomRGBShift;
    RandomSaltAndPepperNoise(SaltAndPepperConfig) => RandomSaltAndPepperNoise;
    RandomMedianBlur(MedianBlurConfig) => RandomMedianBlur;
    RandomMotionBlur(MotionBlurConfig) => RandomMotionBlur [kernel_size, angle, direction];
    RandomPlanckianJitter(PlanckianConfig) => RandomPlanckianJitter;
    RandomLinearIllumination(IlluminationConfig) => RandomLinearIllumination;
    RandomLinearCornerIllumination(IlluminationConfig) => RandomLinearCornerIllumination;
    RandomGaussianIllumination(GaussianIlluminationConfig) => RandomGaussianIllumination;
    RandomSnow(SnowConfig) => RandomSnow;
    RandomRain(RainConfig) => RandomRain;
    RandomJPEG(JpegConfig) => RandomJPEG;
    RandomClahe(ClaheConfig) => RandomClahe;
    RandomPlasmaBrightness(PlasmaConfig) => RandomPlasmaBrightness;
    RandomPlasmaContrast(PlasmaConfig) => RandomPlasmaContrast;
    RandomPlasmaShadow(PlasmaConfig) => RandomPlasmaShadow;
    RandomSharpness(SharpnessConfig) => RandomSharpness;
    CenterCrop3D(CenterCrop3DConfig) => CenterCrop3D [size];
    RandomCrop3D(RandomCrop3DConfig) => RandomCrop3D [size];
    RandomAffine3D(Affine3DConfig) => RandomAffine3D [degrees];
    RandomRotation3D(Rotation3DConfig) => RandomRotation3D [degrees];
    RandomPerspective3D(Perspective3DConfig) => RandomPerspective3D;
    RandomHorizontalFlip3D(FlipConfig) => RandomHorizontalFlip3D;
    RandomVerticalFlip3D(FlipConfig) => RandomVerticalFlip3D;
    RandomDepthicalFlip3D(FlipConfig) => RandomDepthicalFlip3D;
    RandomMotionBlur3D(MotionBlur3DConfig) => RandomMotionBlur3D [kernel_size, angle, direction];
    RandomEqualize3D(Equalize3DConfig) => RandomEqualize3D;
    /// Kornia's `kornia.augmentation.auto.AutoAugment`.
    AutoAugment(AutoAugmentConfig) => AutoAugment;
    /// Kornia's `kornia.augmentation.auto.RandAugment`.
    RandAugment(RandAugmentConfig) => RandAugment [n, m];
    /// Kornia's `kornia.augmentation.auto.TrivialAugment`.
    TrivialAugment(TrivialAugmentConfig) => TrivialAugment;
    /// torchvision's `AugMix` (Kornia has none).
    AugMix(AugMixConfig) => AugMix;
    /// Inside a pipeline it mixes the labels of a [`crate::Batch`] too.
    RandomMixUp(MixUpConfig) => RandomMixUp;
    /// Inside a pipeline it mixes the labels and pastes the masks of a [`crate::Batch`] too.
    RandomCutMix(CutMixConfig) => RandomCutMix;
    /// Inside a pipeline it mixes the labels and pastes the masks of a [`crate::Batch`] too.
    PatchMix(PatchMixConfig) => PatchMix;
    RandomMosaic(MosaicConfig) => RandomMosaic;
    RandomTransplantation(TransplantConfig) => RandomTransplantation;
    RandomTransplantation3D(TransplantConfig) => RandomTransplantation3D;
    /// A container: steps in order, or a random selection of them.
    Sequential(SequentialConfig) => Sequential;
}

/// The spec of a user's augmentation: the name its constructor is registered under and its
/// configuration as JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomSpec {
    /// The registered name.
    pub name: String,
    /// Whatever the constructor reads.
    #[serde(default)]
    pub config: serde_json::Value,
}

/// A constructor of a user's augmentation from its JSON config.
pub type CustomConstructor = fn(&nn::Path, &serde_json::Value) -> Result<Box<dyn Augmentation>>;

fn custom_registry() -> &'static Mutex<HashMap<String, CustomConstructor>> {
    static REGISTRY: OnceLock<Mutex<HashMap<String, CustomConstructor>>> = OnceLock::new();
    REGISTRY.get_or_init(|| Mutex::new(HashMap::new()))
}

/// Registers the constructor of a user's augmentation under `name`, so that pipelines
/// holding [`AugSpec::Custom`] with that name rebuild from JSON. A name of the built-in
/// registry cannot be taken.
///
/// # Errors
/// [`Error::Config`] when `name` is a built-in operator's.
pub fn register_augmentation(name: &str, constructor: CustomConstructor) -> Result<()> {
    if AugSpec::NAMES.contains(&name) {
        return Err(crate::checks::config(
            "register_augmentation",
            "name",
            name,
            "a name that no built-in operator has",
        ));
    }
    custom_registry()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(name.to_string(), constructor);
    Ok(())
}

fn build_custom(path: &nn::Path, spec: &CustomSpec) -> Result<Box<dyn Augmentation>> {
    let ctor = custom_registry()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(&spec.name)
        .copied();
    match ctor {
        Some(f) => f(path, &spec.config),
        None => Err(Error::Config {
            op: "AugSpec",
            name: "Custom",
            value: spec.name.clone(),
            allowed: "a name registered with register_augmentation before building".into(),
        }),
    }
}

impl AugSpec {
    /// The spec with every `same_on_batch` flag it holds (recursively, through containers)
    /// set to `value`; specs without one are unchanged.
    pub fn with_same_on_batch(&self, value: bool) -> AugSpec {
        if let AugSpec::Sequential(c) = self {
            let mut c = c.clone();
            c.same_on_batch = Some(value);
            c.steps = c
                .steps
                .iter()
                .map(|s| s.with_same_on_batch(value))
                .collect();
            return AugSpec::Sequential(c);
        }
        let Ok(mut json) = serde_json::to_value(self) else {
            return self.clone();
        };
        match self.config_fields(&mut json) {
            Some(fields) if fields.contains_key("same_on_batch") => {
                fields.insert("same_on_batch".into(), serde_json::Value::Bool(value));
                serde_json::from_value(json).unwrap_or_else(|_| self.clone())
            }
            _ => self.clone(),
        }
    }

    /// The spec's own `same_on_batch` flag (false for a spec without one, containers
    /// included).
    pub(crate) fn same_on_batch(&self) -> bool {
        let Ok(mut json) = serde_json::to_value(self) else {
            return false;
        };
        self.config_fields(&mut json)
            .and_then(|fields| fields.get("same_on_batch"))
            .and_then(serde_json::Value::as_bool)
            .unwrap_or(false)
    }

    /// The params keys whose values index the batch (sample `i` reads the samples they
    /// name), Kornia's `_batch_index_param`: a video container maps them from clips to
    /// frames.
    pub(crate) fn batch_index_keys(&self) -> &'static [&'static str] {
        match self {
            AugSpec::RandomMosaic(_) => &["permutation"],
            _ => &[],
        }
    }

    /// The params keys drawn once for the whole batch whatever its size (ColorJitter's
    /// `order` of the four colour steps): a video container keeps them as drawn instead of
    /// repeating them over the frames.
    pub(crate) fn batch_wide_keys(&self) -> &'static [&'static str] {
        match self {
            AugSpec::ColorJitter(_) | AugSpec::ColorJiggle(_) => &["order"],
            _ => &[],
        }
    }

    /// The fields of the operator's config in `json`, the spec serialised (`{name: config}`,
    /// a custom step's under `config`).
    fn config_fields<'j>(
        &self,
        json: &'j mut serde_json::Value,
    ) -> Option<&'j mut serde_json::Map<String, serde_json::Value>> {
        let cfg = match json {
            serde_json::Value::Object(m) => m.values_mut().next(),
            _ => None,
        };
        let cfg = match (self, cfg) {
            (AugSpec::Custom(_), Some(serde_json::Value::Object(c))) => c.get_mut("config"),
            (_, c) => c,
        };
        match cfg {
            Some(serde_json::Value::Object(fields)) => Some(fields),
            _ => None,
        }
    }
}
