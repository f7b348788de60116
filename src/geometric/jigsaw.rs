//! RandomJigsaw: each image's grid of patches, shuffled.

use crate::annotations::MaskSampling;
use crate::augmentation::impl_module;
use crate::checks;
use crate::kornia::kwargs::{common, set, FromKornia, Kwargs};
use crate::range::gate_params;
use crate::{AugSpec, Augmentation, Error, Geometry, Params, Result};
use serde::{Deserialize, Serialize};
use std::borrow::Borrow;
use tch::{nn, Device, Kind, Tensor};

/// Configuration of [`RandomJigsaw`]; `Default` is Kornia's (`grid = (4, 4)`,
/// `ensure_perm = true`, `p = 0.5`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JigsawConfig {
    /// The grid (rows, columns): the image's sides must be multiples of them.
    pub grid: (i64, i64),
    /// Never return a transformed image unchanged (the arrangement that keeps every patch
    /// in place is not drawn); needs two patches or more.
    pub ensure_perm: bool,
    /// One arrangement shared by the whole batch.
    pub same_on_batch: bool,
    /// Probability of shuffling each sample.
    pub p: f64,
}

impl Default for JigsawConfig {
    fn default() -> Self {
        JigsawConfig {
            grid: (4, 4),
            ensure_perm: true,
            same_on_batch: false,
            p: 0.5,
        }
    }
}

const JIGSAW: &str = "RandomJigsaw";

/// Redraws for a sample whose arrangement keeps every patch in place (`ensure_perm`): each
/// is drawn with probability 1/N! (N >= 3 patches; two patches have one other arrangement,
/// taken directly), so all of them keep it with probability below 6^-8.
const ROUNDS: i64 = 8;

/// Kornia's RandomJigsaw: each image is cut into `grid` patches of equal size, which are
/// put back in a drawn order. Where the grid does not divide a side, the rows (columns) past
/// the last whole patch stay in place (Kornia refuses such sizes). Kornia's convention: `permutation[j]` is the source patch
/// (numbered row-major) of destination cell `j` (numbered column-major), so the order that
/// keeps the image is `arange(N).view(rows, cols).T.flatten()`, and it is the one
/// `ensure_perm` excludes. Masks move with their patches, and the inverse puts the patches
/// back; boxes and keypoints are refused (a box's patches part). The input gradient is the
/// inverse shuffle.
///
/// The arrangements are drawn in one batched call, as `argsort` of uniforms (each order
/// equally likely), with a few extra rounds drawn at once to replace the order that keeps
/// the image, so nothing is read back; Kornia draws one `randperm` per sample in a Python
/// loop, so the same seed does not give Kornia's arrangements (replayed, they give Kornia's
/// output).
///
/// Params: `permutation` (B, rows·cols) int64, `batch_prob`, `forward_input_shape`.
///
/// # Shapes
/// Input (B,C,H,W) or (C,H,W), float32 or float64, with at least one pixel per grid cell;
/// output the same.
///
/// # Errors
/// `new` fails on a grid entry below 1, a 1×1 grid with `ensure_perm`, or a bad `p`; `f_*`
/// forms on a bad input, sides shorter than the grid, replayed permutations that
/// are not permutations of the grid's cells, and boxes or keypoints.
#[derive(Debug)]
pub struct RandomJigsaw {
    cfg: JigsawConfig,
}

impl RandomJigsaw {
    /// Builds the augmentation (it has no variables; `path` is taken for symmetry).
    ///
    /// # Errors
    /// [`Error::Config`] for a grid entry outside 1..=1024, a 1×1 grid with `ensure_perm`,
    /// or a `p` outside [0, 1].
    pub fn new<'p, P: Borrow<nn::Path<'p>>>(_path: P, cfg: JigsawConfig) -> Result<RandomJigsaw> {
        let (r, c) = cfg.grid;
        if !(1..=1024).contains(&r) || !(1..=1024).contains(&c) || (cfg.ensure_perm && r * c == 1) {
            return Err(Error::Config {
                op: JIGSAW,
                name: "grid",
                value: format!("{:?}", cfg.grid),
                allowed: "1 to 1024 cells per axis, and two cells or more with ensure_perm".into(),
            });
        }
        checks::probability(JIGSAW, "p", cfg.p)?;
        Ok(RandomJigsaw { cfg })
    }

    fn cells(&self) -> i64 {
        self.cfg.grid.0 * self.cfg.grid.1
    }

    /// The arrangement that keeps the image: (N,) int64.
    fn keeping(&self, device: Device) -> Result<Tensor> {
        let (r, c) = self.cfg.grid;
        Ok(Tensor::f_arange(r * c, (Kind::Int64, device))?
            .view([r, c])
            .transpose(0, 1)
            .reshape([-1]))
    }

    /// `permutation` for `x`'s batch, checked to hold N distinct cells per row.
    fn permutation(&self, x: &Tensor, params: &Params) -> Result<Tensor> {
        let (b, n) = (x.size()[0], self.cells());
        let perm = params.shaped(JIGSAW, "permutation", &[b, n])?;
        let perm = perm.to_device(x.device()).to_kind(Kind::Int64);
        if perm.device() == Device::Cpu && b > 0 {
            // Reads back on the CPU only: a GPU would stall on it.
            let sorted = perm.sort(1, false).0;
            let ok =
                sorted.eq_tensor(&Tensor::f_arange(n, (Kind::Int64, Device::Cpu))?.unsqueeze(0));
            if !bool::try_from(ok.all())? {
                return Err(Error::Params {
                    op: JIGSAW,
                    key: "permutation".into(),
                    problem: format!("has rows that are not permutations of 0..{n}"),
                });
            }
            return Ok(perm);
        }
        // Unchecked elsewhere; clamped so that a bad replay cannot index out of bounds.
        Ok(perm.clamp(0, n - 1))
    }

    /// Destination cell j (column-major) of each image gets source patch `perm[j]`
    /// (row-major); rows and columns past the last whole patch stay in place.
    fn shuffle(&self, x: &Tensor, perm: &Tensor) -> Result<Tensor> {
        let s = x.size();
        let (b, c, h, w) = (s[0], s[1], s[2], s[3]);
        let (rows, cols) = self.cfg.grid;
        let (ph, pw) = (h / rows, w / cols);
        let (hc, wc) = (ph * rows, pw * cols);
        let n = rows * cols;
        let inner = x.narrow(2, 0, hc).narrow(3, 0, wc);
        let patches = inner
            .f_reshape([b, c, rows, ph, cols, pw])?
            .permute([0, 2, 4, 1, 3, 5])
            .f_reshape([b, n, c, ph, pw])?;
        let index = perm
            .f_reshape([b, n, 1, 1, 1])?
            .expand([b, n, c, ph, pw], false);
        let moved = patches
            .f_gather(1, &index, false)?
            .f_reshape([b, cols, rows, c, ph, pw])?
            .permute([0, 3, 2, 4, 1, 5])
            .f_reshape([b, c, hc, wc])?;
        if (hc, wc) == (h, w) {
            return Ok(moved.contiguous());
        }
        let top = Tensor::f_cat(&[moved, x.narrow(2, 0, hc).narrow(3, wc, w - wc)], 3)?;
        Ok(Tensor::f_cat(&[top, x.narrow(2, hc, h - hc)], 2)?)
    }

    /// The shuffle that undoes [`RandomJigsaw::shuffle`] by `perm`. With `pos(j)` the
    /// row-major index of column-major cell j (the keeping order), `shuffle` sets
    /// `out[pos(j)] = src[perm[j]]`, so `src[t] = out[pos(perm⁻¹[t])]`: a shuffle by
    /// `pos(perm⁻¹[pos(j)])`.
    fn unshuffle(&self, y: &Tensor, perm: &Tensor) -> Result<Tensor> {
        let size = perm.size();
        let pos = self.keeping(perm.device())?;
        let inverse = perm.argsort(1, false);
        let back = pos
            .index_select(0, &inverse.index_select(1, &pos).reshape([-1]))
            .view(size.as_slice());
        self.shuffle(y, &back)
    }
}

impl Augmentation for RandomJigsaw {
    fn name(&self) -> &'static str {
        JIGSAW
    }

    fn spec(&self) -> AugSpec {
        AugSpec::RandomJigsaw(self.cfg.clone())
    }

    fn probabilities(&self) -> (f64, f64) {
        (self.cfg.p, 1.0)
    }

    fn check_shape(&self, shape: &[i64]) -> Result<()> {
        let (r, c) = self.cfg.grid;
        if shape[2] < r || shape[3] < c {
            return Err(Error::Size {
                op: JIGSAW,
                what: "grid (rows, columns)",
                size: vec![r, c],
                input: shape[2..].to_vec(),
                allowed: "sides of at least one pixel per grid cell",
            });
        }
        Ok(())
    }

    /// The gate, then every arrangement at once: `ROUNDS` candidate orders per sample
    /// (`argsort` of uniforms), the first that moves a patch taken.
    fn sample(&self, shape: &[i64], device: Device) -> Result<Params> {
        let (b, same) = (shape[0], self.cfg.same_on_batch);
        let mut p = gate_params(shape, self.cfg.p, same, device)?;
        let n = self.cells();
        let m = if same { 1 } else { b };
        let perm = if !self.cfg.ensure_perm {
            crate::rng::rand(&[m, n], (Kind::Float, device))?.argsort(1, false)
        } else if n == 2 {
            // The one order that moves a patch (the keeping order of a 1x2 or 2x1 grid is the
            // identity).
            Tensor::f_from_slice(&[1i64, 0])?
                .to_device(device)
                .view([1, 2])
                .f_repeat([m, 1])?
        } else {
            let candidates =
                crate::rng::rand(&[m, ROUNDS, n], (Kind::Float, device))?.argsort(2, false);
            let keeps = candidates
                .eq_tensor(&self.keeping(device)?.view([1, 1, n]))
                .all_dim(2, false);
            // The first round that moves a patch (round 0 in the rare case that none does).
            let first = keeps.logical_not().to_kind(Kind::Int64).argmax(1, false);
            candidates
                .gather(1, &first.view([m, 1, 1]).expand([m, 1, n], false), false)
                .squeeze_dim(1)
        };
        let perm = if same { perm.f_repeat([b, 1])? } else { perm };
        p.insert("permutation", perm);
        Ok(p)
    }

    fn apply_transform(&self, input: &Tensor, params: &Params) -> Result<Tensor> {
        let perm = self.permutation(input, params)?;
        self.shuffle(input, &perm)
    }

    /// Patches do not move as one matrix or field: boxes and keypoints are refused.
    fn geometry_ungated(
        &self,
        _shape: &[i64],
        _params: &Params,
        _kind: Kind,
        _device: Device,
    ) -> Result<Geometry> {
        Err(Error::Annotation {
            op: JIGSAW,
            what: "boxes and keypoints",
            problem: "cannot go through a jigsaw (a box's patches part); use masks".into(),
        })
    }

    fn inverse_transform(
        &self,
        output: &Tensor,
        params: &Params,
        _input_shape: &[i64],
    ) -> Result<Tensor> {
        let perm = self.permutation(output, params)?;
        self.unshuffle(output, &perm)
    }

    fn apply_mask(&self, mask: &Tensor, params: &Params, _how: &MaskSampling) -> Result<Tensor> {
        self.apply_transform(mask, params)
    }

    fn inverse_mask(
        &self,
        mask: &Tensor,
        params: &Params,
        input_shape: &[i64],
        _how: &MaskSampling,
    ) -> Result<Tensor> {
        self.inverse_transform(mask, params, input_shape)
    }
}

impl_module!(RandomJigsaw);

// Kornia's constructor arguments ([`crate::AugSpec::from_kornia`]).

impl FromKornia for RandomJigsaw {
    type Config = JigsawConfig;

    fn from_kornia(kw: &Kwargs) -> Result<JigsawConfig> {
        let mut c = JigsawConfig::default();
        set!(c.grid = kw.size("grid")?);
        set!(c.ensure_perm = kw.flag("ensure_perm")?);
        let _ = kw.get("data_keys");
        common!(kw, c);
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AugmentationExt, Batch, BoxFormat, Boxes};

    fn jigsaw(cfg: JigsawConfig) -> RandomJigsaw {
        RandomJigsaw::new(nn::VarStore::new(Device::Cpu).root(), cfg).unwrap()
    }

    /// The drawn orders are permutations that move a patch (two cells: the swap), shared
    /// under `same_on_batch`; the inverse puts every pixel back, and masks move with the
    /// image.
    #[test]
    fn orders_move_patches_and_invert() {
        for (grid, same) in [
            ((2, 3), false),
            ((1, 2), false),
            ((3, 3), true),
            ((2, 1), false),
        ] {
            let op = jigsaw(JigsawConfig {
                grid,
                same_on_batch: same,
                p: 1.0,
                ..Default::default()
            });
            let (h, w) = (grid.0 * 2, grid.1 * 3);
            let x = Tensor::f_rand([64, 2, h, w], (Kind::Float, Device::Cpu)).unwrap();
            let (batch, params) = op
                .f_forward_batch(&Batch::new(x.shallow_clone()).with_masks(x.shallow_clone()))
                .unwrap();
            let perm = params.get("permutation").unwrap();
            let n = grid.0 * grid.1;
            let sorted = perm.sort(1, false).0;
            let cells = Tensor::arange(n, (Kind::Int64, Device::Cpu)).unsqueeze(0);
            assert!(
                bool::try_from(sorted.eq_tensor(&cells).all()).unwrap(),
                "{grid:?}"
            );
            let keeps = perm
                .eq_tensor(&op.keeping(Device::Cpu).unwrap().unsqueeze(0))
                .all_dim(1, false);
            assert!(
                !bool::try_from(keeps.any()).unwrap(),
                "{grid:?}: an order keeps the image"
            );
            if same {
                assert!(bool::try_from(perm.eq_tensor(&perm.get(0).unsqueeze(0)).all()).unwrap());
            }
            // No pixel of a moved image stays where it was in every sample.
            assert!(!batch.image.equal(&x), "{grid:?}");
            assert!(
                batch.masks.as_ref().unwrap().equal(&batch.image),
                "{grid:?}: mask"
            );
            let back = op.f_inverse_batch(&batch, &params, &x.size()).unwrap();
            assert!(back.image.equal(&x), "{grid:?}: inverse");
            assert!(back.masks.unwrap().equal(&x), "{grid:?}: mask inverse");
        }
    }

    /// A 2x2 grid by hand: cell j (column-major) takes source patch perm[j] (row-major).
    #[test]
    fn cells_follow_kornias_numbering() {
        let op = jigsaw(JigsawConfig {
            grid: (2, 2),
            p: 1.0,
            ..Default::default()
        });
        // One pixel per patch: the image is its patches' row-major numbers.
        let x = Tensor::from_slice(&[0.0f32, 1.0, 2.0, 3.0]).view([1, 1, 2, 2]);
        let mut p = Params::new();
        p.insert(
            "permutation",
            Tensor::from_slice(&[3i64, 1, 2, 0]).view([1, 4]),
        );
        let y: Vec<f32> = Vec::try_from(op.apply_transform(&x, &p).unwrap().view([-1])).unwrap();
        // Cells column-major: (0,0) <- 3, (1,0) <- 1, (0,1) <- 2, (1,1) <- 0.
        assert_eq!(y, [3.0, 2.0, 1.0, 0.0]);
    }

    /// A 2x2 grid on 5x7: patches of 2x3, the last row and column stay where they are.
    #[test]
    fn rows_and_columns_past_the_grid_stay() {
        let op = jigsaw(JigsawConfig {
            grid: (2, 2),
            p: 1.0,
            ..Default::default()
        });
        let x = Tensor::f_rand([3, 2, 5, 7], (Kind::Float, Device::Cpu)).unwrap();
        let params = op.f_sample(&x.size(), Device::Cpu).unwrap();
        let y = op.f_apply(&x, &params).unwrap();
        assert!(y.narrow(2, 4, 1).equal(&x.narrow(2, 4, 1)));
        assert!(y.narrow(3, 6, 1).equal(&x.narrow(3, 6, 1)));
        assert!(!y
            .narrow(2, 0, 4)
            .narrow(3, 0, 6)
            .equal(&x.narrow(2, 0, 4).narrow(3, 0, 6)));
        assert!(op.f_inverse(&y, &params, &x.size()).unwrap().equal(&x));
    }

    #[test]
    fn bad_configs_params_and_annotations_are_typed_errors() {
        let vs = nn::VarStore::new(Device::Cpu);
        let err = |cfg: JigsawConfig| RandomJigsaw::new(vs.root(), cfg).unwrap_err().to_string();
        assert_eq!(
            err(JigsawConfig {
                grid: (1, 1),
                ..Default::default()
            }),
            "RandomJigsaw: grid = (1, 1) is invalid; allowed: 1 to 1024 cells per axis, and two cells or more with ensure_perm"
        );
        assert!(err(JigsawConfig {
            grid: (0, 3),
            ..Default::default()
        })
        .contains("grid = (0, 3)"));
        let op = jigsaw(JigsawConfig {
            grid: (2, 2),
            p: 1.0,
            ..Default::default()
        });
        assert!(op.check_shape(&[1, 1, 1, 5]).is_err());
        let x = Tensor::f_rand([1, 1, 4, 4], (Kind::Float, Device::Cpu)).unwrap();
        let mut p = Params::new();
        p.insert(
            "permutation",
            Tensor::from_slice(&[0i64, 0, 1, 2]).view([1, 4]),
        );
        assert_eq!(
            op.apply_transform(&x, &p).unwrap_err().to_string(),
            "RandomJigsaw: parameter `permutation` has rows that are not permutations of 0..4"
        );
        let boxes = Boxes::new(
            Tensor::from_slice(&[0.0f32, 0.0, 2.0, 2.0]).view([1, 1, 4]),
            BoxFormat::Xyxy,
        );
        let e = op
            .f_forward_batch(&Batch::new(x).with_boxes(boxes))
            .unwrap_err();
        assert!(matches!(e, Error::Annotation { .. }), "{e}");
    }
}
