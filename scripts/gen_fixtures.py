#!/usr/bin/env python3
"""Golden fixtures for tch-dda: Kornia 0.9 outputs, gradients and sampled parameters.

Run from the repository root (scripts/gen_fixtures.sh sets up the interpreter):

    python scripts/gen_fixtures.py [--out tests/fixtures] [--only case1,case2]

One file per case, ``<out>/<case>.safetensors``, holding:
  input, output, grad_output, grad_input   the forward and backward of ``aug(input)``
  param.<key>       every tensor in ``aug._params`` (``param.<i>.<key>`` for the i-th step of a sequential)
  labels, labels_out  (mix cases) the integer class ids given and Kornia's mixed label tensor
  mask, mask_out      (``mask_labels`` cases) the label map (B, *spatial) given, drawn after the input, and
                      Kornia's transplanted one
  seedparam.<key>   (``seedcheck`` cases) ``forward_parameters(input.shape)`` of a fresh instance, drawn right
                    after ``torch.manual_seed(1000 + seed)``
Bool parameters are stored as float32; every other dtype is kept. The metadata records the class, the
constructor kwargs (json; tensors as {"tensor": [...]}) and the original dtype of every parameter.

RNG protocol per case (seed = index of the case in CASES):
  manual_seed(seed);        input = rand(shape, dtype)
  manual_seed(1000 + seed); output = aug(input)            # kornia draws its parameters here
  manual_seed(2000 + seed); grad_output = rand(output.shape, dtype); output.backward(grad_output)
"""
import argparse
import json
import os
import struct
import sys

import kornia
import kornia.augmentation as KA
import torch
from safetensors.torch import save_file

T = torch.tensor
IMNET = dict(mean=T([0.485, 0.456, 0.406]), std=T([0.229, 0.224, 0.225]))
SEQ = [
    ("RandomAffine", dict(degrees=30, translate=(0.1, 0.1), scale=(0.9, 1.1), shear=10, p=1.0)),
    ("ColorJitter", dict(brightness=0.2, contrast=0.3, saturation=0.2, hue=0.3, p=1.0)),
    ("Normalize", IMNET),
]
RANGES = dict(brightness=(0.5, 1.5), contrast=(0.6, 1.4), saturation=(0.0, 2.0), hue=(-0.5, 0.5))
JIT = dict(brightness=0.2, contrast=0.3, saturation=0.2, hue=0.3)

# (name, kornia class, constructor kwargs, input shape, options); options: seedcheck, f64, note
CASES = [
    ("affine_basic", "RandomAffine", dict(degrees=30, translate=(0.1, 0.2), scale=(0.8, 1.2), shear=10, p=1.0),
     (2, 3, 5, 7), dict(seedcheck=True)),
    ("affine_full", "RandomAffine",
     dict(degrees=(-20, 40), translate=(0.2, 0.1), scale=(0.7, 1.3, 0.9, 1.1), shear=(-10, 10, -5, 5), p=1.0),
     (3, 1, 6, 4), dict(seedcheck=True)),
    ("affine_nearest_border", "RandomAffine",
     dict(degrees=25, translate=(0.1, 0.1), scale=(0.9, 1.1), resample="nearest", padding_mode="border", p=1.0),
     (2, 3, 8, 5), {}),
    ("affine_reflection_aligned", "RandomAffine",
     dict(degrees=35, scale=(0.8, 1.0), padding_mode="reflection", align_corners=True, p=1.0), (2, 3, 6, 9), {}),
    ("affine_fill", "RandomAffine",
     dict(degrees=30, translate=(0.2, 0.2), padding_mode="fill", fill_value=T([0.2, 0.5, 0.9]), p=1.0),
     (2, 3, 7, 6), {}),
    ("affine_gate", "RandomAffine", dict(degrees=30, translate=(0.1, 0.1), p=0.5), (6, 3, 5, 7), dict(seedcheck=True)),
    ("rotation_basic", "RandomRotation", dict(degrees=45, p=1.0), (2, 3, 5, 7), dict(seedcheck=True)),
    ("rotation_nearest_unaligned", "RandomRotation",
     dict(degrees=(-10, 60), resample="nearest", align_corners=False, p=1.0), (2, 1, 6, 8), {}),
    ("hflip", "RandomHorizontalFlip", dict(p=0.5), (6, 3, 4, 5), dict(seedcheck=True)),
    ("vflip", "RandomVerticalFlip", dict(p=0.5), (6, 1, 5, 4), dict(seedcheck=True)),
    ("crop_basic", "RandomCrop", dict(size=(3, 4)), (2, 3, 5, 7), dict(seedcheck=True)),
    ("crop_pad_if_needed", "RandomCrop", dict(size=(6, 8), pad_if_needed=True, fill=0.3), (2, 3, 5, 7), {}),
    ("crop_padding_reflect", "RandomCrop", dict(size=(5, 6), padding=(1, 2), padding_mode="reflect"),
     (2, 1, 5, 7), {}),
    ("crop_padding_edge", "RandomCrop", dict(size=(4, 4), padding=1, padding_mode="replicate"), (2, 3, 5, 6),
     dict(note="kornia spells the edge padding mode 'replicate' (it is passed to F.pad)")),
    ("crop_resample", "RandomCrop", dict(size=(3, 4), cropping_mode="resample"), (2, 3, 5, 7), {}),
    ("center_crop", "CenterCrop", dict(size=(3, 4)), (2, 3, 5, 7), {}),
    ("center_crop_odd", "CenterCrop", dict(size=4), (2, 1, 7, 6), {}),
    ("center_crop_resample", "CenterCrop", dict(size=(3, 5), cropping_mode="resample", align_corners=False),
     (2, 3, 6, 9), {}),
    ("resized_crop", "RandomResizedCrop", dict(size=(4, 6), scale=(0.3, 1.0), ratio=(0.75, 1.333)),
     (3, 3, 9, 11), dict(seedcheck=True)),
    ("resized_crop_resample", "RandomResizedCrop", dict(size=(5, 4), cropping_mode="resample"), (2, 1, 8, 10), {}),
    ("resized_crop_nearest", "RandomResizedCrop", dict(size=(4, 4), resample="nearest"), (2, 3, 7, 9), {}),
    ("color_jitter", "ColorJitter", dict(JIT, p=1.0), (2, 3, 5, 7), dict(seedcheck=True)),
    ("color_jitter_ranges", "ColorJitter", dict(RANGES), (3, 3, 4, 6), {}),
    ("color_jitter_brightness", "ColorJitter", dict(brightness=0.4), (2, 1, 5, 7), {}),
    ("color_jiggle", "ColorJiggle", dict(JIT), (2, 3, 5, 7), dict(seedcheck=True)),
    ("color_jiggle_ranges", "ColorJiggle", dict(RANGES), (3, 3, 4, 6), {}),
    ("normalize", "Normalize", dict(IMNET), (2, 3, 5, 7), {}),
    ("normalize_scalar", "Normalize", dict(mean=0.5, std=0.25), (2, 1, 4, 6), {}),
    ("denormalize", "Denormalize", dict(IMNET), (2, 3, 5, 7), {}),
    ("grayscale", "RandomGrayscale", dict(p=1.0), (2, 3, 5, 7), {}),
    ("grayscale_weights", "RandomGrayscale", dict(rgb_weights=T([0.2, 0.3, 0.5]), p=0.5), (6, 3, 4, 5),
     dict(seedcheck=True)),
    ("sequential", "AugmentationSequential", dict(steps=SEQ), (2, 3, 6, 8), {}),
    # float64 input. The module is NOT moved with .to(float64): kornia does not need it and then draws its
    # parameters with float32 torch.rand exactly as in the float32 case (they are cast to the input's dtype on use).
    ("affine_basic_f64", "RandomAffine", dict(degrees=30, translate=(0.1, 0.2), scale=(0.8, 1.2), shear=10, p=1.0),
     (2, 3, 5, 7), dict(seedcheck=True, f64=True)),
    ("color_jitter_f64", "ColorJitter", dict(JIT, p=1.0), (2, 3, 5, 7), dict(seedcheck=True, f64=True)),
    # Issue 3 operators (appended, so the seeds of the cases above do not move).
    ("solarize", "RandomSolarize", dict(thresholds=0.1, additions=0.1, p=1.0), (2, 3, 5, 7), dict(seedcheck=True)),
    ("solarize_ranges_gate", "RandomSolarize", dict(thresholds=(0.2, 0.7), additions=(-0.3, 0.2), p=0.5),
     (6, 1, 4, 5), dict(seedcheck=True)),
    ("sharpness", "RandomSharpness", dict(sharpness=0.5, p=1.0), (2, 3, 6, 7), dict(seedcheck=True)),
    ("sharpness_range", "RandomSharpness", dict(sharpness=(0.2, 1.5), p=1.0), (3, 1, 5, 4), {}),
    ("perspective", "RandomPerspective", dict(distortion_scale=0.5, p=1.0), (2, 3, 6, 7), dict(seedcheck=True)),
    ("perspective_nearest_aligned", "RandomPerspective",
     dict(distortion_scale=0.3, resample="nearest", align_corners=True, p=1.0), (2, 1, 5, 8), {}),
    ("perspective_area_gate", "RandomPerspective",
     dict(distortion_scale=0.4, sampling_method="area_preserving", p=0.5), (6, 3, 5, 6), dict(seedcheck=True)),
    ("erasing", "RandomErasing", dict(p=1.0), (4, 3, 8, 9), dict(seedcheck=True)),
    ("erasing_ratio_gate", "RandomErasing", dict(scale=(0.1, 0.4), ratio=(1.2, 2.5), value=0.7, p=0.5),
     (6, 1, 7, 6), dict(seedcheck=True)),
    ("equalize", "RandomEqualize", dict(p=1.0), (2, 3, 24, 20), {}),
    ("equalize_gate", "RandomEqualize", dict(p=0.5), (6, 1, 20, 24), dict(seedcheck=True)),
    ("brightness", "RandomBrightness", dict(brightness=(0.6, 1.4)), (2, 3, 5, 7), dict(seedcheck=True)),
    ("brightness_noclip", "RandomBrightness", dict(brightness=(0.5, 1.8), clip_output=False), (2, 1, 4, 5), {}),
    ("contrast", "RandomContrast", dict(contrast=(0.5, 1.5)), (2, 3, 5, 7), dict(seedcheck=True)),
    ("contrast_noclip", "RandomContrast", dict(contrast=(0.5, 2.5), clip_output=False, p=0.5), (6, 1, 4, 5),
     dict(seedcheck=True)),
    ("saturation", "RandomSaturation", dict(saturation=(0.2, 1.8)), (2, 3, 5, 7), dict(seedcheck=True)),
    ("hue", "RandomHue", dict(hue=(-0.3, 0.4)), (2, 3, 5, 7), dict(seedcheck=True)),
    ("gamma", "RandomGamma", dict(gamma=(0.5, 1.5), gain=(0.8, 1.2)), (2, 3, 5, 7), dict(seedcheck=True)),
    ("invert", "RandomInvert", dict(p=0.5), (6, 3, 4, 5), dict(seedcheck=True)),
    ("gaussian_blur", "RandomGaussianBlur", dict(kernel_size=(3, 5), sigma=(0.5, 2.0), p=1.0), (2, 3, 6, 7),
     dict(seedcheck=True)),
    ("gaussian_blur_replicate_gate", "RandomGaussianBlur",
     dict(kernel_size=5, sigma=(0.3, 1.5), border_type="replicate", p=0.5), (6, 1, 5, 6), dict(seedcheck=True)),
    ("box_blur", "RandomBoxBlur", dict(kernel_size=(3, 5), p=1.0), (2, 3, 6, 7), {}),
    ("box_blur_even_constant", "RandomBoxBlur", dict(kernel_size=(4, 2), border_type="constant", p=1.0),
     (2, 1, 5, 6), {}),
    ("channel_shuffle", "RandomChannelShuffle", dict(p=1.0), (3, 3, 4, 5), dict(seedcheck=True)),
    ("channel_shuffle_gate", "RandomChannelShuffle", dict(p=0.5), (6, 4, 3, 3), dict(seedcheck=True)),
    ("gaussian_noise", "RandomGaussianNoise", dict(mean=0.1, std=0.2, p=1.0), (2, 3, 4, 5), dict(seedcheck=True)),
    ("posterize", "RandomPosterize", dict(bits=3, p=1.0), (2, 3, 5, 6), dict(seedcheck=True)),
    ("posterize_range_gate", "RandomPosterize", dict(bits=(0.0, 8.0), p=0.5), (6, 1, 4, 5), dict(seedcheck=True)),
    ("auto_contrast", "RandomAutoContrast", dict(p=1.0), (2, 3, 4, 5), {}),
    ("auto_contrast_noclip", "RandomAutoContrast", dict(clip_output=False, p=0.5), (6, 1, 4, 5), dict(seedcheck=True)),
    ("shear", "RandomShear", dict(shear=(-15.0, 20.0), p=1.0), (2, 3, 6, 7), dict(seedcheck=True)),
    ("shear_xy_border", "RandomShear", dict(shear=(-10.0, 10.0, -5.0, 15.0), padding_mode="border", p=0.5),
     (6, 1, 5, 6), dict(seedcheck=True)),
    ("translate", "RandomTranslate", dict(translate_x=(-0.2, 0.3), translate_y=(-0.1, 0.1), p=1.0), (2, 3, 6, 7),
     dict(seedcheck=True)),
    ("translate_y_only", "RandomTranslate", dict(translate_y=(-0.3, 0.3), resample="nearest", p=1.0), (2, 1, 5, 6),
     dict(seedcheck=True)),
    ("rotation90", "RandomRotation90", dict(times=(-3, 3), p=1.0), (4, 3, 5, 5), dict(seedcheck=True)),
    ("rotation90_nonsquare", "RandomRotation90", dict(times=(1, 2), p=1.0, align_corners=False), (3, 1, 4, 6),
     dict(seedcheck=True)),
    ("channel_dropout", "RandomChannelDropout", dict(num_drop_channels=2, fill_value=0.3, p=1.0), (3, 4, 3, 4),
     dict(seedcheck=True)),
    ("rgb_shift", "RandomRGBShift", dict(r_shift_limit=0.2, g_shift_limit=(-0.1, 0.3), b_shift_limit=0.4, p=1.0),
     (2, 3, 4, 5), dict(seedcheck=True)),
    ("salt_pepper", "RandomSaltAndPepperNoise", dict(amount=(0.1, 0.3), p=1.0), (2, 3, 6, 7), dict(seedcheck=True)),
    ("salt_pepper_gray_gate", "RandomSaltAndPepperNoise", dict(p=0.5), (6, 1, 5, 6), dict(seedcheck=True)),
    ("median_blur", "RandomMedianBlur", dict(kernel_size=(3, 5), p=1.0), (2, 3, 6, 7), {}),
    ("resize", "Resize", dict(size=(5, 9)), (2, 3, 7, 6), {}),
    ("resize_side_unaligned", "Resize", dict(size=4, side="long", align_corners=False), (2, 1, 7, 10), {}),
    ("resize_nearest_antialias", "Resize", dict(size=(3, 4), resample="nearest", antialias=True), (2, 3, 9, 11), {}),
    ("resize_bicubic_antialias", "Resize", dict(size=(4, 5), resample="bicubic", antialias=True), (2, 1, 10, 13), {}),
    ("longest_max_size", "LongestMaxSize", dict(max_size=5), (2, 3, 8, 6), {}),
    ("smallest_max_size", "SmallestMaxSize", dict(max_size=5), (2, 3, 8, 6), {}),
    ("pad_to", "PadTo", dict(size=(7, 9), pad_value=0.4), (2, 3, 5, 6), {}),
    ("pad_to_reflect_crop", "PadTo", dict(size=(6, 4), pad_mode="reflect"), (2, 1, 4, 6), {}),
    ("motion_blur", "RandomMotionBlur", dict(kernel_size=5, angle=35.0, direction=0.5, p=1.0), (3, 3, 7, 8),
     dict(seedcheck=True)),
    ("motion_blur_range_bilinear_reflect", "RandomMotionBlur",
     dict(kernel_size=(3, 7), angle=(-90.0, 90.0), direction=(-1.0, 1.0), resample="bilinear", border_type="reflect",
          p=0.5), (6, 1, 8, 9), dict(seedcheck=True)),
    ("fisheye", "RandomFisheye", dict(center_x=T([-0.3, 0.3]), center_y=T([-0.3, 0.3]), gamma=T([0.9, 1.1]), p=1.0),
     (2, 3, 6, 7), dict(seedcheck=True)),
    ("elastic", "RandomElasticTransform", dict(kernel_size=(5, 7), sigma=(2.0, 3.0), alpha=(0.5, 0.8), p=1.0),
     (2, 3, 6, 7), dict(seedcheck=True)),
    ("elastic_aligned_border_gate", "RandomElasticTransform",
     dict(kernel_size=(3, 3), sigma=(1.0, 1.0), alpha=(1.0, 1.0), align_corners=True, padding_mode="border", p=0.5),
     (6, 1, 5, 6), dict(seedcheck=True)),
    ("thin_plate_spline", "RandomThinPlateSpline", dict(scale=0.2, p=1.0), (2, 3, 6, 7), dict(seedcheck=True)),
    ("thin_plate_spline_aligned_gate", "RandomThinPlateSpline", dict(scale=0.3, align_corners=True, p=0.5),
     (6, 1, 5, 6), dict(seedcheck=True)),
    ("planckian", "RandomPlanckianJitter", dict(p=1.0), (3, 3, 4, 5), dict(seedcheck=True)),
    ("planckian_cied_select_gate", "RandomPlanckianJitter", dict(mode="CIED", select_from=[1, 5, 10], p=0.5),
     (6, 3, 3, 4), dict(seedcheck=True)),
    # Issue 4: volumes (B, C, D, H, W) and mixing with labels (appended; seeds above unchanged).
    ("affine3d", "RandomAffine3D", dict(degrees=20.0, translate=(0.1, 0.2, 0.1), scale=(0.9, 1.1), shears=5.0, p=1.0),
     (2, 2, 4, 5, 6), dict(seedcheck=True)),
    ("affine3d_full_nearest_aligned", "RandomAffine3D",
     dict(degrees=((-10.0, 20.0), (-5.0, 5.0), (0.0, 30.0)), scale=((0.8, 1.2), (0.9, 1.1), (0.7, 1.0)),
          shears=((-5.0, 5.0), (0.0, 3.0), (-2.0, 2.0), (-4.0, 0.0), (1.0, 2.0), (-3.0, 3.0)), resample="nearest",
          align_corners=True, p=1.0), (2, 1, 5, 4, 6), dict(seedcheck=True)),
    ("affine3d_gate", "RandomAffine3D", dict(degrees=30.0, p=0.5), (6, 1, 4, 4, 5), dict(seedcheck=True)),
    ("rotation3d", "RandomRotation3D", dict(degrees=30.0, p=1.0), (2, 2, 4, 5, 6), dict(seedcheck=True)),
    ("rotation3d_ranges_aligned_gate", "RandomRotation3D",
     dict(degrees=((-10.0, 40.0), (0.0, 0.0), (20.0, 30.0)), resample="nearest", align_corners=True, p=0.5),
     (6, 1, 3, 4, 5), dict(seedcheck=True)),
    ("perspective3d", "RandomPerspective3D", dict(distortion_scale=0.5, p=1.0), (2, 2, 4, 5, 6), dict(seedcheck=True)),
    ("perspective3d_nearest_aligned_gate", "RandomPerspective3D",
     dict(distortion_scale=0.3, resample="nearest", align_corners=True, p=0.5), (6, 1, 4, 4, 4), dict(seedcheck=True)),
    ("hflip3d", "RandomHorizontalFlip3D", dict(p=0.5), (6, 1, 3, 4, 5), dict(seedcheck=True)),
    ("vflip3d", "RandomVerticalFlip3D", dict(p=0.5), (6, 1, 3, 4, 5), dict(seedcheck=True)),
    ("dflip3d", "RandomDepthicalFlip3D", dict(p=0.5), (6, 2, 3, 4, 5), dict(seedcheck=True)),
    ("center_crop3d", "CenterCrop3D", dict(size=(2, 3, 4)), (2, 2, 4, 5, 6), {}),
    ("center_crop3d_odd", "CenterCrop3D", dict(size=3), (2, 1, 5, 6, 7), {}),
    ("crop3d", "RandomCrop3D", dict(size=(2, 3, 4)), (2, 2, 4, 5, 6), dict(seedcheck=True)),
    ("crop3d_padding_fill", "RandomCrop3D", dict(size=(4, 5, 7), padding=1, pad_if_needed=True, fill=0.3),
     (2, 1, 3, 4, 4), dict(seedcheck=True)),
    ("motion_blur3d", "RandomMotionBlur3D", dict(kernel_size=3, angle=30.0, direction=0.5, p=1.0), (2, 2, 5, 6, 7),
     dict(seedcheck=True)),
    ("motion_blur3d_range_bilinear_reflect_gate", "RandomMotionBlur3D",
     dict(kernel_size=(3, 5), angle=((-30.0, 30.0), (0.0, 45.0), (-10.0, 10.0)), direction=(-1.0, 1.0),
          resample="bilinear", border_type="reflect", p=0.5), (6, 1, 5, 6, 7), dict(seedcheck=True)),
    ("equalize3d", "RandomEqualize3D", dict(p=1.0), (2, 2, 6, 8, 9), {}),
    ("equalize3d_gate", "RandomEqualize3D", dict(p=0.5), (6, 1, 5, 8, 8), dict(seedcheck=True)),
    ("mixup", "RandomMixUpV2", dict(data_keys=["input", "class"]), (6, 3, 5, 7), dict(seedcheck=True, labels=True)),
    ("mixup_range_same", "RandomMixUpV2", dict(lambda_val=(0.2, 0.6), same_on_batch=True, data_keys=["input", "class"]),
     (6, 1, 4, 5), dict(seedcheck=True, labels=True)),
    ("mixup_gate", "RandomMixUpV2", dict(p=0.5, data_keys=["input", "class"]), (4, 3, 4, 5),
     dict(seedcheck=True, labels=True)),
    ("cutmix", "RandomCutMixV2", dict(data_keys=["input", "class"]), (6, 3, 8, 9), dict(seedcheck=True, labels=True)),
    ("cutmix_two_correct", "RandomCutMixV2",
     dict(num_mix=2, cut_size=(0.2, 0.8), beta=0.5, use_correct_lambda=True, data_keys=["input", "class"]),
     (6, 1, 7, 8), dict(seedcheck=True, labels=True)),
    ("cutmix_same_gate", "RandomCutMixV2", dict(same_on_batch=True, p=0.5, data_keys=["input", "class"]),
     (4, 3, 6, 6), dict(seedcheck=True, labels=True)),
    # Issue 8: containers that draw which children apply (appended; seeds above unchanged).
    ("sequential_random_apply_mix", "AugmentationSequential",
     dict(steps=[("RandomHorizontalFlip", dict(p=1.0)), ("RandomMixUpV2", dict(p=1.0)),
                 ("RandomAffine", dict(degrees=20.0, p=1.0)), ("RandomVerticalFlip", dict(p=1.0))],
          random_apply=(1, 3)), (4, 3, 5, 6), dict(seedcheck=True)),
    ("sequential_random_apply_all", "AugmentationSequential",
     dict(steps=[("RandomHorizontalFlip", dict(p=0.5)), ("RandomCutMixV2", dict(p=1.0)),
                 ("RandomRotation", dict(degrees=30.0, p=1.0))],
          random_apply=True), (4, 3, 6, 5), dict(seedcheck=True)),
    # Issue 23: the Kornia classes still to port (appended; seeds above unchanged).
    ("linear_illumination", "RandomLinearIllumination", dict(p=1.0), (8, 3, 5, 7), dict(seedcheck=True)),
    ("linear_illumination_gain_sign_same_gate", "RandomLinearIllumination",
     dict(gain=(0.1, 0.5), sign=(-0.5, 1.0), same_on_batch=True, p=0.5), (6, 1, 4, 6), dict(seedcheck=True)),
    ("linear_corner_illumination", "RandomLinearCornerIllumination", dict(p=1.0), (8, 3, 6, 5),
     dict(seedcheck=True)),
    ("linear_corner_illumination_point_gate", "RandomLinearCornerIllumination",
     dict(gain=0.3, sign=1.0, p=0.5), (6, 2, 1, 7), dict(seedcheck=True)),
    ("gaussian_illumination", "RandomGaussianIllumination", dict(p=1.0), (8, 3, 5, 8), dict(seedcheck=True)),
    ("gaussian_illumination_ranges_same_gate", "RandomGaussianIllumination",
     dict(gain=(0.2, 0.6), center=(0.3, 0.4), sigma=(0.05, 0.3), sign=(-1.0, 0.2), same_on_batch=True, p=0.5),
     (6, 1, 7, 6), dict(seedcheck=True)),
    ("gaussian_illumination_point_sigma", "RandomGaussianIllumination",
     dict(gain=0.5, sigma=0.0, center=0.5, sign=1.0, p=1.0), (3, 2, 4, 5), dict(seedcheck=True)),
    ("longest_max_size_image", "LongestMaxSize", dict(max_size=11), (2, 3, 6, 8), {}),
    ("smallest_max_size_nearest", "SmallestMaxSize", dict(max_size=5, resample="nearest"), (2, 3, 6, 8), {}),
    ("smallest_max_size_half_pixel", "SmallestMaxSize", dict(max_size=9, align_corners=False), (2, 3, 6, 8), {}),
    ("snow", "RandomSnow", {}, (4, 3, 6, 7), dict(seedcheck=True)),
    ("snow_ranges_same_gate", "RandomSnow",
     dict(snow_coefficient=(0.3, 0.7), brightness=(1.5, 2.5), same_on_batch=True, p=0.5), (6, 3, 5, 6),
     dict(seedcheck=True)),
    ("plasma_brightness", "RandomPlasmaBrightness", dict(p=1.0), (3, 3, 6, 7), dict(seedcheck=True)),
    ("plasma_brightness_same_gate_tall", "RandomPlasmaBrightness",
     dict(roughness=(0.3, 0.5), intensity=(0.2, 0.6), same_on_batch=True, p=0.5), (4, 2, 9, 4),
     dict(seedcheck=True)),
    ("plasma_contrast", "RandomPlasmaContrast", dict(p=1.0), (3, 3, 5, 5), dict(seedcheck=True)),
    ("plasma_shadow", "RandomPlasmaShadow", dict(p=1.0), (3, 3, 8, 11), dict(seedcheck=True)),
    ("plasma_shadow_ranges_gate", "RandomPlasmaShadow",
     dict(roughness=(0.2, 0.9), shade_intensity=(-0.5, -0.1), shade_quantity=(0.3, 0.8), p=0.5), (5, 1, 3, 17),
     dict(seedcheck=True)),
    ("rain", "RandomRain", dict(number_of_drops=(5, 12), drop_height=(1, 4), drop_width=(-3, 3), p=1.0),
     (3, 3, 9, 11), dict(seedcheck=True)),
    ("rain_wide_gray_same_gate", "RandomRain",
     dict(number_of_drops=(2, 6), drop_height=(1, 3), drop_width=(-7, 7), same_on_batch=True, p=0.5),
     (5, 1, 6, 12), dict(seedcheck=True)),
    ("rain_slanted", "RandomRain", dict(number_of_drops=(3, 8), drop_height=(4, 6), drop_width=(-3, 3), p=1.0),
     (4, 3, 10, 9), dict(seedcheck=True)),
    ("patchmix", "PatchMix", dict(patch_size=3), (4, 3, 6, 7), dict(seedcheck=True)),
    ("patchmix_same_gate", "PatchMix", dict(alpha=0.5, patch_size=2, same_on_batch=True, p=0.5), (5, 1, 4, 6),
     dict(seedcheck=True)),
    ("jpeg", "RandomJPEG", dict(p=1.0), (3, 3, 16, 24), dict(seedcheck=True)),
    ("jpeg_coarse_padded_same_gate", "RandomJPEG", dict(jpeg_quality=(1.0, 20.0), same_on_batch=True, p=0.5),
     (4, 3, 13, 10), dict(seedcheck=True)),
    ("clahe", "RandomClahe", dict(clip_limit=(2.0, 8.0), grid_size=(2, 3), p=1.0), (2, 3, 16, 18),
     dict(seedcheck=True)),
    ("clahe_odd_padded_same_gate", "RandomClahe",
     dict(clip_limit=(1.0, 4.0), grid_size=(3, 4), same_on_batch=True, p=0.5), (4, 1, 13, 17), dict(seedcheck=True)),
    ("clahe_unclipped", "RandomClahe", dict(clip_limit=(0.0, 0.0), grid_size=(2, 2), p=1.0), (2, 3, 8, 8),
     dict(seedcheck=True)),
    ("clahe_differentiable", "RandomClahe",
     dict(clip_limit=(2.0, 6.0), grid_size=(2, 2), slow_and_differentiable=True, p=1.0), (2, 3, 10, 12),
     dict(seedcheck=True)),
    # Kornia draws one randperm per sample in a Python loop (with a redraw of the order that keeps the
    # image): no seedcheck, the crate draws all orders in one batched call instead.
    ("jigsaw", "RandomJigsaw", dict(grid=(2, 3), p=1.0), (3, 2, 6, 9), {}),
    ("jigsaw_tall_gate", "RandomJigsaw", dict(grid=(3, 2), p=0.5), (5, 3, 9, 4), {}),
    ("jigsaw_same_row", "RandomJigsaw", dict(grid=(1, 4), same_on_batch=True, p=1.0), (3, 1, 5, 8), {}),
    # Called with a label mask (``mask_labels`` labels, drawn after the input): Kornia picks each donor's label
    # with a randperm per donor over the labels it finds, so the seedcheck covers the gate only.
    ("transplant", "RandomTransplantation", dict(p=1.0), (3, 2, 6, 7), dict(mask_labels=3, seedcheck=True)),
    ("transplant_excluded_gate", "RandomTransplantation", dict(excluded_labels=[0], p=0.6), (5, 3, 5, 6),
     dict(mask_labels=3, seedcheck=True)),
    ("transplant3d", "RandomTransplantation3D", dict(p=1.0), (3, 2, 3, 4, 5), dict(mask_labels=3, seedcheck=True)),
    ("mosaic", "RandomMosaic", dict(p=1.0), (4, 3, 6, 8), dict(seedcheck=True)),
    ("mosaic_out_grid_gate", "RandomMosaic",
     dict(output_size=(5, 9), mosaic_grid=(2, 3), start_ratio_range=(0.1, 0.9), p=0.6), (5, 2, 4, 6),
     dict(seedcheck=True)),
    ("mosaic_resample_replicate", "RandomMosaic",
     dict(output_size=(7, 7), cropping_mode="resample", padding_mode="replicate", p=1.0), (3, 1, 5, 6),
     dict(seedcheck=True)),
]


def build(cls, kwargs):
    if cls == "AugmentationSequential":
        options = {k: v for k, v in kwargs.items() if k != "steps"}
        return KA.AugmentationSequential(*(getattr(KA, c)(**kw) for c, kw in kwargs["steps"]), **options)
    return getattr(KA, cls)(**kwargs)


def to_json(kwargs):
    return json.dumps(kwargs, sort_keys=True,
                      default=lambda t: {"tensor": t.tolist(), "dtype": str(t.dtype).replace("torch.", "")})


def flatten_params(params, prefix):
    """``aug._params`` -> {prefix.key: tensor}; a sequential's list of ParamItem -> {prefix.i.key: tensor}."""
    if isinstance(params, (list, tuple)):
        out = {}
        for i, item in enumerate(params):
            out.update(flatten_params(item.data or {}, f"{prefix}.{i}"))
        return out
    return {f"{prefix}.{k}": v for k, v in params.items() if isinstance(v, torch.Tensor)}


def store(tensors):
    """Contiguous, unshared copies; bool -> float32. Returns the stored dict and the original dtypes."""
    out, dtypes = {}, {}
    for k, v in tensors.items():
        dtypes[k] = str(v.dtype).replace("torch.", "")
        v = v.detach().to("cpu")
        out[k] = (v.to(torch.float32) if v.dtype == torch.bool else v).clone().contiguous()
    return out, dtypes


def canonicalize(path):
    """Rewrite the header with sorted keys: safetensors writes ``__metadata__`` in hash-map order."""
    with open(path, "rb") as f:
        blob = f.read()
    n = struct.unpack("<Q", blob[:8])[0]
    header = json.dumps(json.loads(blob[8:8 + n]), sort_keys=True, separators=(",", ":")).encode()
    header += b" " * (-len(header) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(header)) + header + blob[8 + n:])


def describe(tensors, prefix):
    return " ".join(f"{k[len(prefix) + 1:]}{list(v.shape)}:{str(v.dtype)[6:]}"
                    for k, v in sorted(tensors.items()) if k.startswith(prefix + "."))


def run_case(seed, name, cls, kwargs, shape, opts, out_dir):
    dtype = torch.float64 if opts.get("f64") else torch.float32
    torch.manual_seed(seed)
    x = torch.rand(shape, dtype=dtype)
    x0 = x.clone()
    x_req = x.clone().requires_grad_(True)
    aug = build(cls, kwargs)
    labels = labels_out = None
    if opts.get("labels"):
        # Fixed class ids (no draw, so the RNG protocol is unchanged).
        labels = torch.tensor([(3 * i + 1) % 5 for i in range(shape[0])], dtype=torch.long)
    mask = mask_out = None
    if opts.get("mask_labels"):
        # A label map (B, *spatial), drawn right after the input.
        mask = torch.randint(0, opts["mask_labels"], (shape[0], *shape[2:]))
    torch.manual_seed(1000 + seed)
    if labels is not None:
        out, labels_out = aug(x_req, labels)
    elif mask is not None:
        out, mask_out = aug(x_req, mask)
    else:
        out = aug(x_req)
    if isinstance(out, (list, tuple)):
        out = out[0]
    params = aug._params
    torch.manual_seed(2000 + seed)
    g = torch.rand(out.shape, dtype=out.dtype)
    grad_state = "none"
    if out.requires_grad:
        try:
            out.backward(g)
            grad_state = "ok" if x_req.grad is not None else "none"
        except RuntimeError as e:  # pragma: no cover - reported in the summary
            print(f"  {name}: backward raised: {e}", file=sys.stderr)
    grad_in = x_req.grad if grad_state == "ok" else torch.zeros_like(x)
    assert torch.equal(x, x0) and torch.equal(x_req.detach(), x0), f"{name}: input modified in place"

    tensors = {"input": x, "output": out, "grad_output": g, "grad_input": grad_in}
    if labels is not None:
        tensors.update({"labels": labels, "labels_out": labels_out})
    if mask is not None:
        tensors.update({"mask": mask, "mask_out": mask_out})
    tensors.update(flatten_params(params, "param"))
    if opts.get("seedcheck"):
        fresh = build(cls, kwargs)
        torch.manual_seed(1000 + seed)
        tensors.update(flatten_params(fresh.forward_parameters(x.shape), "seedparam"))
    stored, dtypes = store(tensors)
    meta = {
        "kornia_class": cls,
        "kwargs": to_json(kwargs),
        "seed": str(seed),
        "input_seed": str(seed),
        "param_seed": str(1000 + seed),
        "grad_seed": str(2000 + seed),
        "dtype": str(dtype).replace("torch.", ""),
        "module_dtype": "float32 (default; never moved with .to)",
        "torch": torch.__version__,
        "kornia": kornia.__version__,
        "grad": grad_state,
        "param_dtypes": json.dumps({k: v for k, v in dtypes.items() if "param." in k}, sort_keys=True),
    }
    if isinstance(params, (list, tuple)):
        meta["param_names"] = json.dumps([item.name for item in params])
    if opts.get("note"):
        meta["note"] = opts["note"]
    if opts.get("seedcheck"):
        same = all(torch.equal(stored["param." + k[10:]], v) for k, v in stored.items() if k.startswith("seedparam."))
        meta["seedparam_equals_param"] = str(same).lower()
    path = os.path.join(out_dir, f"{name}.safetensors")
    save_file(stored, path, metadata=meta)
    canonicalize(path)
    print(f"{name}: out{list(out.shape)} {str(out.dtype)[6:]} max|grad_in|={grad_in.abs().max().item():.6g} "
          f"grad={grad_state} params: {describe(stored, 'param')}"
          + (f" | seedparam==param: {meta['seedparam_equals_param']}" if opts.get("seedcheck") else ""))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="tests/fixtures")
    ap.add_argument("--only", default="", help="comma-separated case names")
    args = ap.parse_args()
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    os.makedirs(args.out, exist_ok=True)
    only = set(filter(None, args.only.split(",")))
    for seed, (name, cls, kwargs, shape, opts) in enumerate(CASES):
        if not only or name in only:
            run_case(seed, name, cls, kwargs, shape, opts, args.out)
    total = sum(os.path.getsize(os.path.join(args.out, f)) for f in os.listdir(args.out))
    print(f"total {args.out}: {total} bytes")


if __name__ == "__main__":
    main()
