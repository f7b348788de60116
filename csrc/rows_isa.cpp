// The row loops of rows.h compiled for one instruction set: build.rs compiles this file once
// per set, naming it with DDA_ISA (`base`, `avx2`), and kernels.cpp calls the widest one the
// CPU runs. Nothing else may live here: see rows.h.

#include "rows.h"

#ifndef DDA_ISA
#error "DDA_ISA names the instruction set this file is compiled for"
#endif

#define DDA_CAT2(a, b) a##b
#define DDA_CAT(a, b) DDA_CAT2(a, b)
#define DDA_STR2(a) #a
#define DDA_STR(a) DDA_STR2(a)

extern "C" const DdaRows *DDA_CAT(dda_rows_, DDA_ISA)() {
  static const DdaRows table = {
      {&hue_forward_row<float>, &hue_backward_row<float>, &jitter_row<float>,
       &color_map_row<float>, &color_map_backward_row<float>,
       &jitter_backward_row<float>,
       &outer_add_row<float>, &project_add_row<float>,
       &resample_row<float>, &resample_backward_row<float>},
      {&hue_forward_row<double>, &hue_backward_row<double>, &jitter_row<double>,
       &color_map_row<double>, &color_map_backward_row<double>,
       &jitter_backward_row<double>,
       &outer_add_row<double>, &project_add_row<double>,
       &resample_row<double>, &resample_backward_row<double>},
      DDA_STR(DDA_ISA),
  };
  return &table;
}
