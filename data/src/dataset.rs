//! Readers: what files a dataset has and what each is labelled.

use crate::error::{Error, Result};
use serde::Deserialize;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The file extensions the readers list (case-insensitive). The decoder itself reads the
/// format from the content, so a PNG named `.jpg` still decodes.
pub const IMAGE_EXTENSIONS: &[&str] = &["jpg", "jpeg", "png"];

/// One image of a dataset.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The image file.
    pub path: PathBuf,
    /// Its class index (`-1` where the dataset has no labels).
    pub label: i64,
    /// Its objects (COCO datasets), in pixels of the decoded image.
    pub objects: Vec<Object>,
}

/// One annotated object of an image (the COCO reader's boxes, polygons and keypoints).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Object {
    /// The box as `[x1, y1, x2, y2]` in pixels (COCO's `[x, y, w, h]` converted).
    pub bbox: [f32; 4],
    /// The category's index in [`Dataset::classes`].
    pub class: i64,
    /// Its outline: polygons of `[x1, y1, x2, y2, ...]` in pixels (COCO's `segmentation`),
    /// their union (each even-odd filled) the object's mask; empty: no mask.
    pub polygons: Vec<Vec<f32>>,
    /// Its keypoints as `[x, y, v]` (COCO's visibility `v`: 0 not labelled, 1 labelled but
    /// hidden, 2 visible).
    pub keypoints: Vec<[f32; 3]>,
}

/// A list of labelled image files, in a fixed order (the loader's indices refer to it).
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    samples: Vec<Sample>,
    classes: Vec<String>,
    detection: bool,
    masks: bool,
    keypoints: usize,
}

#[derive(Deserialize)]
struct CocoFile {
    images: Vec<CocoImage>,
    #[serde(default)]
    annotations: Vec<CocoAnnotation>,
    categories: Vec<CocoCategory>,
}

#[derive(Deserialize)]
struct CocoImage {
    id: i64,
    file_name: String,
}

#[derive(Deserialize)]
struct CocoAnnotation {
    image_id: i64,
    bbox: [f64; 4],
    category_id: i64,
    #[serde(default)]
    iscrowd: u8,
    #[serde(default)]
    segmentation: Option<serde_json::Value>,
    #[serde(default)]
    keypoints: Vec<f64>,
}

#[derive(Deserialize)]
struct CocoCategory {
    id: i64,
    name: String,
}

fn io(path: &Path, e: std::io::Error) -> Error {
    Error::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

fn is_image(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMAGE_EXTENSIONS.iter().any(|x| x.eq_ignore_ascii_case(e)))
}

/// Every image file under `dir`, recursively, in sorted order (symbolic links followed).
fn images_under(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let mut entries = std::fs::read_dir(dir)
        .map_err(|e| io(dir, e))?
        .map(|e| e.map(|e| e.path()).map_err(|e| io(dir, e)))
        .collect::<Result<Vec<_>>>()?;
    entries.sort();
    for path in entries {
        if path.is_dir() {
            images_under(&path, out)?;
        } else if is_image(&path) {
            out.push(path);
        }
    }
    Ok(())
}

impl Dataset {
    fn assemble(samples: Vec<Sample>, classes: Vec<String>, detection: bool) -> Dataset {
        let objects = || samples.iter().flat_map(|s| s.objects.iter());
        let masks = objects().any(|o| !o.polygons.is_empty());
        let keypoints = objects().map(|o| o.keypoints.len()).max().unwrap_or(0);
        Dataset {
            samples,
            classes,
            detection,
            masks,
            keypoints,
        }
    }

    /// Whether the batches carry instance masks (an object has a polygon).
    pub fn has_masks(&self) -> bool {
        self.masks
    }

    /// The keypoints per object in the batches (the most any object has; 0: none).
    pub fn keypoints_per_object(&self) -> usize {
        self.keypoints
    }

    /// A dataset from samples and class names (the labels index `classes`; `classes` may be
    /// empty for unnamed labels). Its batches carry objects when a sample has one.
    ///
    /// # Errors
    /// [`Error::Dataset`] when a label is below -1 or, with names, not below their count.
    pub fn from_samples(samples: Vec<Sample>, classes: Vec<String>) -> Result<Dataset> {
        let detection = samples.iter().any(|s| !s.objects.is_empty());
        let bad =
            |s: &Sample| s.label < -1 || (!classes.is_empty() && s.label >= classes.len() as i64);
        let bad_object = |o: &Object| {
            o.class < 0
                || (!classes.is_empty() && o.class >= classes.len() as i64)
                || !o.bbox.iter().all(|v| v.is_finite())
        };
        if let Some((s, o)) = samples
            .iter()
            .find_map(|s| s.objects.iter().find(|o| bad_object(o)).map(|o| (s, o)))
        {
            return Err(Error::Dataset {
                source_name: s.path.display().to_string(),
                problem: format!(
                    "object {o:?}: classes are indices 0..{} and boxes finite",
                    if classes.is_empty() {
                        "".into()
                    } else {
                        classes.len().to_string()
                    }
                ),
            });
        }
        if let Some(s) = samples.iter().find(|s| bad(s)) {
            return Err(Error::Dataset {
                source_name: s.path.display().to_string(),
                problem: format!(
                    "label {} is outside -1..{} (-1: unlabelled; otherwise an index into \
                     the {} class names)",
                    s.label,
                    classes.len(),
                    classes.len()
                ),
            });
        }
        Ok(Dataset::assemble(samples, classes, detection))
    }

    /// torchvision's `ImageFolder`: one folder per class under `root` (the classes are the
    /// folder names, sorted; label `i` is the `i`-th), and every `.jpg`, `.jpeg` and `.png`
    /// file under each, recursively, in sorted order. Files with other extensions are not
    /// listed.
    ///
    /// # Errors
    /// [`Error::Io`] for a folder that cannot be read; [`Error::Dataset`] when `root` has no
    /// class folder or a class folder has no image (torchvision refuses both too).
    pub fn image_folder(root: impl AsRef<Path>) -> Result<Dataset> {
        let root = root.as_ref();
        let mut dirs = std::fs::read_dir(root)
            .map_err(|e| io(root, e))?
            .map(|e| e.map(|e| e.path()).map_err(|e| io(root, e)))
            .collect::<Result<Vec<_>>>()?;
        dirs.retain(|p| p.is_dir());
        dirs.sort();
        if dirs.is_empty() {
            return Err(Error::Dataset {
                source_name: root.display().to_string(),
                problem: "no class folder: ImageFolder takes root/<class>/<image> files".into(),
            });
        }
        let mut samples = Vec::new();
        let mut classes = Vec::with_capacity(dirs.len());
        for (label, dir) in dirs.iter().enumerate() {
            let mut files = Vec::new();
            images_under(dir, &mut files)?;
            if files.is_empty() {
                return Err(Error::Dataset {
                    source_name: dir.display().to_string(),
                    problem: format!(
                        "class folder without images (extensions {IMAGE_EXTENSIONS:?})"
                    ),
                });
            }
            let name = dir.file_name().map(|n| n.to_string_lossy().into_owned());
            classes.push(name.unwrap_or_default());
            samples.extend(files.into_iter().map(|path| Sample {
                path,
                label: label as i64,
                objects: Vec::new(),
            }));
        }
        Ok(Dataset::assemble(samples, classes, false))
    }

    /// A list file: one image per line, `path label` (the label an integer, optional: `-1`
    /// without), paths relative to the list file's folder unless absolute; blank lines and
    /// lines starting with `#` are skipped. The classes have no names.
    ///
    /// # Errors
    /// [`Error::Io`] when the list cannot be read; [`Error::Dataset`] naming the line for a
    /// label that is not an integer of -1 or more, or extra fields.
    pub fn list_file(list: impl AsRef<Path>) -> Result<Dataset> {
        let list = list.as_ref();
        let text = std::fs::read_to_string(list).map_err(|e| io(list, e))?;
        let base = list.parent().unwrap_or(Path::new("."));
        let mut samples = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = |problem: String| Error::Dataset {
                source_name: format!("{}:{}", list.display(), n + 1),
                problem,
            };
            // The label is the last field when it parses; paths may hold spaces.
            let labelled = line
                .rsplit_once(char::is_whitespace)
                .and_then(|(p, l)| l.parse::<i64>().ok().map(|l| (p.trim_end(), l)));
            let (path, label) = labelled.unwrap_or((line, -1));
            if label < -1 {
                return Err(bad(format!(
                    "label {label}: labels are integers of 0 or more (-1: unlabelled)"
                )));
            }
            samples.push(Sample {
                path: base.join(path),
                label,
                objects: Vec::new(),
            });
        }
        Ok(Dataset::assemble(samples, Vec::new(), false))
    }

    /// A COCO-style detection dataset: `annotations` is the JSON file (`images` with `id`
    /// and `file_name`, `annotations` with `image_id`, `bbox` as `[x, y, w, h]` and
    /// `category_id`, `categories` with `id` and `name`), `images` the folder the file
    /// names are relative to. The classes are the categories sorted by id (an object's
    /// class is its category's index there); boxes become `[x1, y1, x2, y2]` in continuous
    /// pixel coordinates (`x2 = x + w`); `segmentation` polygons become the objects'
    /// instance masks and `keypoints` their keypoints. Crowd annotations (`iscrowd: 1`, with
    /// their run-length masks) are left out, as torchvision's detection references do in
    /// training. Images keep the file's order and may have no object.
    ///
    /// # Errors
    /// [`Error::Io`] when the file cannot be read; [`Error::Dataset`] for JSON that is not
    /// COCO's layout, an annotation of an unknown image or category, a repeated id, a box
    /// of negative or non-finite size, a polygon of fewer than 3 points, a run-length mask on
    /// a non-crowd object, or keypoints that are not `[x, y, v]` triples.
    pub fn coco(annotations: impl AsRef<Path>, images: impl AsRef<Path>) -> Result<Dataset> {
        let (file, dir) = (annotations.as_ref(), images.as_ref());
        let text = std::fs::read_to_string(file).map_err(|e| io(file, e))?;
        let bad = |problem: String| Error::Dataset {
            source_name: file.display().to_string(),
            problem,
        };
        let coco: CocoFile = serde_json::from_str(&text)
            .map_err(|e| bad(format!("not a COCO annotation file: {e}")))?;
        let mut categories: Vec<&CocoCategory> = coco.categories.iter().collect();
        categories.sort_by_key(|c| c.id);
        if let Some(w) = categories.windows(2).find(|w| w[0].id == w[1].id) {
            return Err(bad(format!("category id {} appears twice", w[0].id)));
        }
        let class_of: HashMap<i64, i64> = categories
            .iter()
            .enumerate()
            .map(|(i, c)| (c.id, i as i64))
            .collect();
        let mut slot_of = HashMap::with_capacity(coco.images.len());
        let mut samples = Vec::with_capacity(coco.images.len());
        for img in &coco.images {
            if slot_of.insert(img.id, samples.len()).is_some() {
                return Err(bad(format!("image id {} appears twice", img.id)));
            }
            samples.push(Sample {
                path: dir.join(&img.file_name),
                label: -1,
                objects: Vec::new(),
            });
        }
        for (n, a) in coco.annotations.iter().enumerate() {
            let slot = *slot_of.get(&a.image_id).ok_or_else(|| {
                bad(format!(
                    "annotation {n} names image id {}, which `images` lacks",
                    a.image_id
                ))
            })?;
            let class = *class_of.get(&a.category_id).ok_or_else(|| {
                bad(format!(
                    "annotation {n} names category id {}, which `categories` lacks",
                    a.category_id
                ))
            })?;
            let [x, y, w, h] = a.bbox;
            if !(x.is_finite() && y.is_finite() && w.is_finite() && h.is_finite())
                || w < 0.0
                || h < 0.0
            {
                return Err(bad(format!(
                    "annotation {n} has bbox {:?}; allowed: finite [x, y, w, h], w and h of \
                     0 or more",
                    a.bbox
                )));
            }
            if a.iscrowd != 0 {
                continue;
            }
            let polygons = match &a.segmentation {
                None | Some(serde_json::Value::Null) => Vec::new(),
                Some(serde_json::Value::Array(polys)) => polys
                    .iter()
                    .map(|p| {
                        let v: Option<Vec<f32>> = p
                            .as_array()
                            .and_then(|p| p.iter().map(|c| c.as_f64().map(|c| c as f32)).collect());
                        match v {
                            Some(v) if v.len() >= 6 && v.len() % 2 == 0 => {
                                if v.iter().all(|c| c.is_finite()) {
                                    Ok(v)
                                } else {
                                    Err(bad(format!("annotation {n}: a polygon is not finite")))
                                }
                            }
                            _ => Err(bad(format!(
                                "annotation {n}: a segmentation polygon must be a list of at \
                                 least 3 (x, y) pairs, [x1, y1, x2, y2, ...]"
                            ))),
                        }
                    })
                    .collect::<Result<Vec<_>>>()?,
                Some(_) => {
                    return Err(bad(format!(
                        "annotation {n}: a run-length (RLE) segmentation; this reader takes \
                         polygons (RLE is read only for crowd regions, which it leaves out)"
                    )))
                }
            };
            if a.keypoints.len() % 3 != 0 || !a.keypoints.iter().all(|v| v.is_finite()) {
                return Err(bad(format!(
                    "annotation {n}: keypoints must be finite [x, y, v] triples, got {} values",
                    a.keypoints.len()
                )));
            }
            let keypoints = a
                .keypoints
                .chunks_exact(3)
                .map(|k| [k[0] as f32, k[1] as f32, k[2] as f32])
                .collect();
            samples[slot].objects.push(Object {
                bbox: [x as f32, y as f32, (x + w) as f32, (y + h) as f32],
                class,
                polygons,
                keypoints,
            });
        }
        Ok(Dataset::assemble(
            samples,
            categories.iter().map(|c| c.name.clone()).collect(),
            true,
        ))
    }

    /// Whether the batches carry objects (a COCO dataset).
    pub fn is_detection(&self) -> bool {
        self.detection
    }

    /// The samples, in the dataset's order.
    pub fn samples(&self) -> &[Sample] {
        &self.samples
    }

    /// The class names (empty when the labels are unnamed).
    pub fn classes(&self) -> &[String] {
        &self.classes
    }

    /// The number of images.
    pub fn len(&self) -> usize {
        self.samples.len()
    }

    /// Whether it has no image.
    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }
}
