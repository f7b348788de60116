//! Drawing a record (`tch_dda::draw`): where box outlines, class names, keypoints and mask
//! overlays land, pixel by pixel on black images; Normalize undone from a pipeline; the
//! grid layout and its PNG; typed errors for what cannot be drawn.

use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};
use tch_dda::draw::{self, DrawOptions};
use tch_dda::*;

fn black(b: i64, h: i64, w: i64) -> Tensor {
    Tensor::zeros([b, 3, h, w], (Kind::Float, Device::Cpu))
}

/// The RGB of pixel (x, y) of image `i` of a (B,3,H,W) uint8 tensor.
fn rgb(t: &Tensor, i: i64, x: i64, y: i64) -> [u8; 3] {
    let v = Vec::<u8>::try_from(t.get(i).select(2, x).select(1, y)).unwrap();
    [v[0], v[1], v[2]]
}

/// The (x, y) of every pixel of image `i` that is not black.
fn lit(t: &Tensor, i: i64) -> Vec<(i64, i64)> {
    let (h, w) = (t.size()[2], t.size()[3]);
    let mut out = Vec::new();
    for y in 0..h {
        for x in 0..w {
            if rgb(t, i, x, y) != [0, 0, 0] {
                out.push((x, y));
            }
        }
    }
    out
}

const OPTS: fn() -> DrawOptions = || DrawOptions {
    labels: false,
    line_width: 1,
    ..Default::default()
};

#[test]
fn box_outlines_lie_on_the_box_border_in_the_class_colour() {
    // Image 0: box [3,4,10,12] of class 2 and an invalid box; image 1: a box half outside.
    let boxes = Boxes::xyxy(
        Tensor::from_slice(&[
            3.0f32, 4., 10., 12., 0., 0., 5., 5., -4., 2., 6., 8., 0., 0., 0., 0.,
        ])
        .view([2, 2, 4]),
    )
    .with_valid(Tensor::from_slice(&[true, false, true, false]).view([2, 2]))
    .with_class_ids(Tensor::from_slice(&[2i64, 0, 5, 0]).view([2, 2]));
    let out = draw::f_draw_boxes(&black(2, 16, 20), &boxes, &OPTS()).unwrap();
    assert_eq!((out.size(), out.kind()), (vec![2, 3, 16, 20], Kind::Uint8));
    // The border of [3..=10] × [4..=12]: 2·8 + 2·9 - 4 = 30 pixels, tab10's green.
    let on = lit(&out, 0);
    let border = |&(x, y): &(i64, i64)| {
        (3..=10).contains(&x) && (4..=12).contains(&y) && (x == 3 || x == 10 || y == 4 || y == 12)
    };
    assert_eq!(on.len(), 30);
    assert!(on.iter().all(border));
    assert_eq!(rgb(&out, 0, 3, 4), [44, 160, 44]);
    // Image 1: the part inside, x 0..=6 (the left edge is outside the image), tab10's brown.
    let on = lit(&out, 1);
    assert_eq!(on.len(), 2 * 7 + 7 - 2);
    assert!(on
        .iter()
        .all(|&(x, y)| (x == 6 || y == 2 || y == 8) && x <= 6));
    assert_eq!(rgb(&out, 1, 6, 5), [140, 86, 75]);

    // Invalid boxes in gray when asked; a wider line grows inwards.
    let opts = DrawOptions {
        invalid: true,
        line_width: 2,
        ..OPTS()
    };
    let out = draw::f_draw_boxes(&black(2, 16, 20), &boxes, &opts).unwrap();
    assert_eq!(rgb(&out, 0, 5, 5), [128, 128, 128]);
    assert_eq!(rgb(&out, 0, 4, 7), [44, 160, 44]); // the class-2 box's second ring
    assert_eq!(rgb(&out, 0, 7, 5), [44, 160, 44]);
    assert_eq!(rgb(&out, 0, 5, 7), [0, 0, 0]);
}

#[test]
fn class_names_are_written_above_their_box_in_white_on_its_colour() {
    let boxes = Boxes::xyxy(Tensor::from_slice(&[10.0f32, 20., 40., 30.]).view([1, 1, 4]))
        .with_class_ids(Tensor::from_slice(&[1i64]).view([1, 1]));
    let opts = DrawOptions {
        class_names: vec!["bg".into(), "cat".into()],
        labels: true,
        ..OPTS()
    };
    let out = draw::f_draw_boxes(&black(1, 40, 48), &boxes, &opts).unwrap();
    // The label: 3 glyphs of 8 px plus a margin, 10 rows above the box.
    let (mut white, mut orange) = (0, 0);
    for (x, y) in lit(&out, 0) {
        let c = rgb(&out, 0, x, y);
        if y < 20 {
            assert!(
                (10..=35).contains(&x) && (10..=19).contains(&y),
                "({x}, {y})"
            );
            match c {
                [255, 255, 255] => white += 1,
                [255, 127, 14] => orange += 1,
                _ => panic!("{c:?} at ({x}, {y})"),
            }
        }
    }
    assert_eq!(white + orange, 26 * 10);
    assert!(
        white > 20 && orange > white,
        "{white} white, {orange} orange"
    );
    // Without a name, the id is written (one glyph); with labels off, nothing.
    let ids = draw::f_draw_boxes(&black(1, 40, 48), &boxes, &OPTS()).unwrap();
    let named = DrawOptions {
        labels: true,
        ..OPTS()
    };
    let one = draw::f_draw_boxes(&black(1, 40, 48), &boxes, &named).unwrap();
    let above = |t: &Tensor| lit(t, 0).into_iter().filter(|&(_, y)| y < 20).count();
    assert_eq!((above(&ids), above(&one)), (0, 10 * 10));
    // A box at the top of the image gets its label inside.
    let top = Boxes::xyxy(Tensor::from_slice(&[10.0f32, 0., 40., 30.]).view([1, 1, 4]))
        .with_class_ids(Tensor::from_slice(&[1i64]).view([1, 1]));
    let out = draw::f_draw_boxes(&black(1, 40, 48), &top, &named).unwrap();
    assert_eq!(rgb(&out, 0, 10, 5), [255, 127, 14]);
}

#[test]
fn keypoints_are_discs_and_masks_a_tint() {
    let kp = Keypoints::new(Tensor::from_slice(&[5.0f32, 6., 30., 30.]).view([1, 2, 2]));
    let out = draw::f_draw_keypoints(&black(1, 16, 20), &kp, &OPTS()).unwrap();
    // Radius 2: the 13 pixels with dx² + dy² <= 4; the second point is outside.
    let on = lit(&out, 0);
    assert_eq!(on.len(), 13);
    assert!(on
        .iter()
        .all(|&(x, y)| (x - 5).pow(2) + (y - 6).pow(2) <= 4));
    assert_eq!(rgb(&out, 0, 5, 6), [255, 221, 0]);

    // A label map: label 1 over a 3×2 block, label 3 on one pixel, at opacity 0.5.
    let m = Tensor::zeros([1, 8, 8], (Kind::Int64, Device::Cpu));
    let _ = m.get(0).narrow(0, 1, 2).narrow(1, 2, 3).fill_(1);
    let _ = m.get(0).get(6).get(6).fill_(3);
    let opts = DrawOptions {
        mask_alpha: 0.5,
        ..OPTS()
    };
    let out = draw::f_draw_masks(&black(1, 8, 8), &m, &opts).unwrap();
    assert_eq!(lit(&out, 0).len(), 7);
    assert_eq!(rgb(&out, 0, 2, 1), [16, 60, 90]); // (31, 119, 180) / 2, rounded half up
    assert_eq!(rgb(&out, 0, 6, 6), [22, 80, 22]); // label 3: (44, 160, 44) / 2
                                                  // The same as channels (B,K,H,W): a pixel takes its first channel above 0.5.
    let ch = Tensor::stack(&[m.eq(1), m.eq(3)], 1).to_kind(Kind::Float);
    let again = draw::f_draw_masks(&black(1, 8, 8), &ch, &opts).unwrap();
    assert_eq!(rgb(&again, 0, 2, 1), [16, 60, 90]);
    assert_eq!(rgb(&again, 0, 6, 6), [128, 64, 7]); // channel 2: tab10's orange / 2
}

#[test]
fn a_record_draws_after_a_pipeline_with_its_normalize_undone() {
    let vs = VarStore::new(Device::Cpu);
    let seq = Sequential::new(
        &(vs.root() / "p"),
        SequentialConfig {
            annotations: AnnotationOptions::detection(),
            ..SequentialConfig::new(vec![
                AugSpec::RandomHorizontalFlip(FlipConfig {
                    p: 1.0,
                    ..Default::default()
                }),
                AugSpec::Normalize(NormalizeConfig::imagenet()),
            ])
        },
    )
    .unwrap();
    let gray = Tensor::full([1, 3, 12, 16], 0.8, (Kind::Float, Device::Cpu));
    let batch = Batch::new(gray).with_keypoints(Keypoints::new(
        Tensor::from_slice(&[2.0f32, 3., -5., 3.]).view([1, 2, 2]),
    ));
    let (out, _) = seq.f_forward_batch(&batch).unwrap();
    let opts = DrawOptions {
        keypoint_radius: 0,
        ..DrawOptions::undoing(&seq)
    };
    assert_eq!(
        opts.denormalize,
        Some((vec![0.485, 0.456, 0.406], vec![0.229, 0.224, 0.225]))
    );
    let drawn = draw::f_draw(&out, &opts).unwrap();
    // 0.8 normalised and undone is 0.8 again: 204.
    assert_eq!(rgb(&drawn, 0, 0, 0), [204, 204, 204]);
    // The flipped keypoint (2, 3) -> (13, 3) is drawn; the one outside is not.
    assert_eq!(rgb(&drawn, 0, 13, 3), [255, 221, 0]);
    let yellow = (0..16)
        .flat_map(|x| (0..12).map(move |y| (x, y)))
        .filter(|&(x, y)| rgb(&drawn, 0, x, y) == [255, 221, 0])
        .count();
    assert_eq!(yellow, 1);
    // Without undoing, the normalised image is out of [0, 1] and clamps.
    let raw = draw::f_draw(&out, &OPTS()).unwrap();
    assert_eq!(rgb(&raw, 0, 0, 0), [255, 255, 255]);
    // Unbatched and gray images draw too.
    let one = draw::f_draw(
        &Batch::new(Tensor::full([1, 4, 4], 1.0, (Kind::Float, Device::Cpu))),
        &OPTS(),
    )
    .unwrap();
    assert_eq!(
        (one.size(), rgb(&one, 0, 3, 3)),
        (vec![1, 3, 4, 4], [255, 255, 255])
    );
}

#[test]
fn rows_make_a_grid_and_a_png() {
    let a = Tensor::full([2, 3, 4, 5], 0.0, (Kind::Float, Device::Cpu));
    let b = Tensor::full([1, 3, 3, 3], 100.0, (Kind::Uint8, Device::Cpu));
    let grid = draw::f_grid(&[a, b.shallow_clone()], 2).unwrap();
    // Cells of the largest image (4×5), 2 px apart and around: 2·(4+2)+2 by 2·(5+2)+2.
    assert_eq!((grid.size(), grid.kind()), (vec![3, 14, 16], Kind::Uint8));
    let px = |x: i64, y: i64| Vec::<u8>::try_from(grid.select(2, x).select(1, y)).unwrap()[0];
    assert_eq!((px(2, 2), px(6, 5), px(9, 2), px(13, 5)), (0, 0, 0, 0));
    assert_eq!(
        (px(1, 2), px(7, 2), px(2, 6), px(8, 2)),
        (255, 255, 255, 255)
    );
    assert_eq!(
        (px(2, 8), px(4, 10), px(5, 8), px(2, 11)),
        (100, 100, 255, 255)
    );
    assert_eq!(px(9, 8), 255); // row 2 has one image

    let dir = std::env::temp_dir().join(format!("tch-dda-draw-{}", std::process::id()));
    let path = dir.join("sub").join("grid.png");
    draw::f_save_png(&grid, &path).unwrap();
    let back = tch::vision::image::load(&path).unwrap();
    assert_eq!(back.size(), [3, 14, 16]);
    assert!(back.equal(&grid));
    draw::f_save_grid(&[b], dir.join("b.png")).unwrap();
    assert_eq!(
        tch::vision::image::load(dir.join("b.png")).unwrap().size(),
        [3, 11, 11]
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn what_cannot_be_drawn_is_a_typed_error() {
    let img = black(1, 8, 8);
    let boxes = Boxes::xyxy(Tensor::from_slice(&[1.0f32, 1., 3., 3.]).view([1, 1, 4]));
    let config = |o: DrawOptions| draw::f_draw_boxes(&img, &boxes, &o).unwrap_err();
    for (e, name) in [
        (
            config(DrawOptions {
                line_width: 0,
                ..OPTS()
            }),
            "line_width",
        ),
        (
            config(DrawOptions {
                keypoint_radius: -1,
                ..OPTS()
            }),
            "keypoint_radius",
        ),
        (
            config(DrawOptions {
                mask_alpha: 1.5,
                ..OPTS()
            }),
            "mask_alpha",
        ),
        (
            config(DrawOptions {
                denormalize: Some((vec![0.5], vec![])),
                ..OPTS()
            }),
            "denormalize",
        ),
    ] {
        assert!(
            matches!(e, Error::Config { name: n, .. } if n == name),
            "{e}"
        );
    }
    let e = draw::f_draw_boxes(&black(1, 8, 8).narrow(1, 0, 2), &boxes, &OPTS()).unwrap_err();
    assert!(matches!(e, Error::Channels { got: 2, .. }), "{e}");
    let e = draw::f_draw_boxes(&img.to_kind(Kind::Int), &boxes, &OPTS()).unwrap_err();
    assert!(matches!(e, Error::Dtype { .. }), "{e}");
    let e = draw::f_draw_boxes(&img.view([3, 8, 8, 1, 1]), &boxes, &OPTS()).unwrap_err();
    assert!(matches!(e, Error::Rank { .. }), "{e}");
    let wrong = Boxes::xyxy(Tensor::zeros([2, 1, 4], (Kind::Float, Device::Cpu)));
    let e = draw::f_draw_boxes(&img, &wrong, &OPTS()).unwrap_err();
    assert!(matches!(e, Error::Annotation { what: "boxes", .. }), "{e}");
    let e = draw::f_draw_masks(
        &img,
        &Tensor::zeros([1, 7, 8], (Kind::Int64, Device::Cpu)),
        &OPTS(),
    )
    .unwrap_err();
    assert!(matches!(e, Error::Annotation { what: "mask", .. }), "{e}");
    let norm = DrawOptions {
        denormalize: Some((vec![0.5, 0.5], vec![0.2, 0.2])),
        ..OPTS()
    };
    let e = draw::f_draw_boxes(&img, &boxes, &norm).unwrap_err();
    assert!(matches!(e, Error::Channels { got: 3, .. }), "{e}");
    assert!(matches!(
        draw::f_grid(&[], 2).unwrap_err(),
        Error::Annotation { what: "rows", .. }
    ));
    let e = draw::f_save_png(
        &Tensor::zeros([2, 8, 8], (Kind::Uint8, Device::Cpu)),
        "x.png",
    )
    .unwrap_err();
    assert!(matches!(e, Error::Annotation { what: "image", .. }), "{e}");
}
