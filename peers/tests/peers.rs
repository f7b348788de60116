//! The benchmark peers compute what they claim: the kornia-rs pipeline with a neutral draw is
//! the normalisation alone, the batch layout round-trips, the draws are the paper's.

use tch::{Device, Kind, Tensor};
use tch_dda_peers::{cpu, tch_loop, Draw, SplitMix, MEAN, STD};

fn neutral() -> Draw {
    Draw {
        m: [1.0, 0.0, 0.0, 0.0, 1.0, 0.0],
        brightness: 1.0,
        contrast: 1.0,
        saturation: 1.0,
        hue: 0.0,
        order: [3, 2, 1, 0],
    }
}

fn normalized(x: &Tensor) -> Tensor {
    let mean = Tensor::from_slice(&MEAN).view([1, 3, 1, 1]);
    let std = Tensor::from_slice(&STD).view([1, 3, 1, 1]);
    (x - mean) / std
}

#[test]
fn a_neutral_draw_is_the_normalisation_alone() {
    tch::manual_seed(0);
    let x = Tensor::rand([2, 3, 12, 16], (Kind::Float, Device::Cpu));
    let (f32s, u8s) = cpu::from_batch(&x).unwrap();
    let d = neutral();
    let out: Vec<_> = f32s
        .iter()
        .map(|i| cpu::paper_f32(i, &d).unwrap())
        .collect();
    let got = cpu::to_batch(&out);
    // The HSV round trip on kornia-rs's 0..255 scale is not exact: within a few 1e-4.
    let err = (&got - normalized(&x)).abs().max().double_value(&[]);
    assert!(err < 5e-3, "float32: {err}");
    let out: Vec<_> = u8s.iter().map(|i| cpu::paper_u8(i, &d).unwrap()).collect();
    let want = normalized(&((&x * 255.0).round() / 255.0));
    let err = (cpu::to_batch(&out) - want).abs().max().double_value(&[]);
    assert!(err < 5e-3, "uint8: {err}");
}

#[test]
fn the_batch_layout_round_trips_and_a_draw_changes_the_images() {
    tch::manual_seed(1);
    let x = Tensor::rand([3, 3, 8, 10], (Kind::Float, Device::Cpu));
    let (f32s, _) = cpu::from_batch(&x).unwrap();
    assert!(cpu::to_batch(&f32s).equal(&x));
    let y = cpu::batch_f32(&f32s, 7).unwrap();
    assert_eq!(y.size(), x.size());
    assert!((&y - normalized(&x)).abs().max().double_value(&[]) > 0.1);
    let z = tch_loop::paper(&x, &mut SplitMix(3));
    assert_eq!(z.size(), x.size());
    assert!(z.isfinite().all().int64_value(&[]) == 1);
}

#[test]
fn draws_are_the_papers_ranges_and_keep_the_centre_near_the_translation() {
    let mut rng = SplitMix(5);
    let (w, h) = (224usize, 112usize);
    for _ in 0..200 {
        let d = Draw::new(&mut rng, w, h);
        assert!((0.8..=1.2).contains(&d.brightness));
        assert!((0.7..=1.3).contains(&d.contrast));
        assert!((0.8..=1.2).contains(&d.saturation));
        assert!((-0.3..=0.3).contains(&d.hue));
        let mut o = d.order;
        o.sort();
        assert_eq!(o, [0, 1, 2, 3]);
        // The centre moves by the translation only: at most 10% of each side.
        let (cx, cy) = ((w as f32 - 1.0) / 2.0, (h as f32 - 1.0) / 2.0);
        let [a, b, c, dd, e, f] = d.m;
        let (x, y) = (a * cx + b * cy + c, dd * cx + e * cy + f);
        assert!((x - cx).abs() <= 0.1 * w as f32 + 1e-3, "{x} vs {cx}");
        assert!((y - cy).abs() <= 0.1 * h as f32 + 1e-3, "{y} vs {cy}");
    }
}
