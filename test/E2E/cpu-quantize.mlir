// lowbit-lower-to-cpu quantizes f32 activations to int8 (per row or per
// tensor, dynamic f32 scales) with vector code that must give the reference
// lowering's codes and scales bit for bit (docs/CodegenCPU.md): here every
// case is quantized and dequantized, and the printed bits of both lowerings
// must be identical. Rows with NaN, +Inf, all zeros, subnormals only; K = 37
// (a tail of 5 lanes after two 16-lane chunks) and 40; ties at half codes
// (round to even, and nearest_away); full_range; per tensor; M = 1; and
// scales per block of a row (llama.cpp's q8_0 activations: 32 inputs, f16
// scales; 16 with f32; bf16 with nearest_away) with blocks whose f16
// scale would round to zero (the smallest subnormal instead) or overflow
// (the largest finite), NaN and Inf.
//
// RUN: lowbit-opt %s --lowbit-lower-to-cpu | FileCheck %s --check-prefix=IR
// RUN: lowbit-opt %s --lowbit-reference-to-llvm | %run_cpu > %t.ref
// RUN: lowbit-opt %s --lowbit-cpu-to-llvm | %run_cpu > %t.cpu
// RUN: grep -v base@ %t.ref > %t.ref.data && grep -v base@ %t.cpu > %t.cpu.data
// RUN: diff %t.ref.data %t.cpu.data
// RUN: FileCheck %s --check-prefix=OUT < %t.cpu
//
// IR-NOT: linalg.generic
// IR: vector.reduction <maxnumf>
// IR: arith.divf {{.*}} : vector<16xf32>
// IR: math.roundeven {{.*}} : vector<16xf32>
// IR: math.round {{.*}} : vector<16xf32>
// OUT-COUNT-9: Unranked Memref

func.func private @printMemrefI32(tensor<*xi32>)
func.func @row(%x: tensor<5x37xf32>) -> (tensor<5x37xf32>) {
  %q = lowbit.quantize %x : tensor<5x37xf32> -> !lowbit.qtensor<5x37xi8, per_axis<0>>
  %d = lowbit.dequantize %q : !lowbit.qtensor<5x37xi8, per_axis<0>> -> tensor<5x37xf32>
  return %d : tensor<5x37xf32>
}
func.func @away(%x: tensor<5x37xf32>) -> (tensor<5x37xf32>) {
  %q = lowbit.quantize %x : tensor<5x37xf32> -> !lowbit.qtensor<5x37xi8, per_axis<0>, round = nearest_away>
  %d = lowbit.dequantize %q : !lowbit.qtensor<5x37xi8, per_axis<0>, round = nearest_away> -> tensor<5x37xf32>
  return %d : tensor<5x37xf32>
}
func.func @full(%x: tensor<5x37xf32>) -> (tensor<5x37xf32>) {
  %q = lowbit.quantize %x : tensor<5x37xf32> -> !lowbit.qtensor<5x37xi8, per_axis<0>, full_range>
  %d = lowbit.dequantize %q : !lowbit.qtensor<5x37xi8, per_axis<0>, full_range> -> tensor<5x37xf32>
  return %d : tensor<5x37xf32>
}
func.func @tensor(%x: tensor<3x40xf32>) -> (tensor<3x40xf32>) {
  %q = lowbit.quantize %x : tensor<3x40xf32> -> !lowbit.qtensor<3x40xi8, per_tensor>
  %d = lowbit.dequantize %q : !lowbit.qtensor<3x40xi8, per_tensor> -> tensor<3x40xf32>
  return %d : tensor<3x40xf32>
}
func.func @ties(%x: tensor<3x40xf32>) -> (tensor<3x40xf32>) {
  %q = lowbit.quantize %x : tensor<3x40xf32> -> !lowbit.qtensor<3x40xi8, per_axis<0>>
  %d = lowbit.dequantize %q : !lowbit.qtensor<3x40xi8, per_axis<0>> -> tensor<3x40xf32>
  return %d : tensor<3x40xf32>
}
func.func @row1(%x: tensor<1x37xf32>) -> (tensor<1x37xf32>) {
  %q = lowbit.quantize %x : tensor<1x37xf32> -> !lowbit.qtensor<1x37xi8, per_axis<0>>
  %d = lowbit.dequantize %q : !lowbit.qtensor<1x37xi8, per_axis<0>> -> tensor<1x37xf32>
  return %d : tensor<1x37xf32>
}
func.func @blk32h(%x: tensor<2x64xf32>) -> (tensor<2x64xf32>) {
  %q = lowbit.quantize %x : tensor<2x64xf32> -> !lowbit.qtensor<2x64xi8, per_group<[1 : 32]>, scale = f16>
  %d = lowbit.dequantize %q : !lowbit.qtensor<2x64xi8, per_group<[1 : 32]>, scale = f16> -> tensor<2x64xf32>
  return %d : tensor<2x64xf32>
}
func.func @blk16(%x: tensor<2x64xf32>) -> (tensor<2x64xf32>) {
  %q = lowbit.quantize %x : tensor<2x64xf32> -> !lowbit.qtensor<2x64xi8, per_group<[1 : 16]>>
  %d = lowbit.dequantize %q : !lowbit.qtensor<2x64xi8, per_group<[1 : 16]>> -> tensor<2x64xf32>
  return %d : tensor<2x64xf32>
}
func.func @blk32bf(%x: tensor<2x64xf32>) -> (tensor<2x64xf32>) {
  %q = lowbit.quantize %x : tensor<2x64xf32> -> !lowbit.qtensor<2x64xi8, per_group<[1 : 32]>, scale = bf16, round = nearest_away>
  %d = lowbit.dequantize %q : !lowbit.qtensor<2x64xi8, per_group<[1 : 32]>, scale = bf16, round = nearest_away> -> tensor<2x64xf32>
  return %d : tensor<2x64xf32>
}
func.func @main() {
  %x = arith.constant dense<[[0xC019F889, 0xC07E46E5, 0xBF3EBDE2, 0x3FA17373, 0x405A1EF6, 0x3EA88250, 0xBFD43771, 0xC016AD86, 0x400FC25A, 0x409CF06E, 0x3F517C86, 0xC06CCC92, 0xC037FCA7, 0x40999A12, 0x3F1BD050, 0xC0A648F2, 0xBE808EAF, 0xC05F56E2, 0xBFF1A589, 0xBFBB64ED, 0xC008F4C7, 0x3FD47F51, 0xBE41CCD4, 0xBFE25773, 0x3F9D4D09, 0x401F550C, 0xC09DBAF1, 0xBF452B32, 0xC03C4DB2, 0xBF04FBB4, 0xC0779183, 0x3D7E3E5A, 0xBDE8C51E, 0xBF69BB3D, 0xC04933AF, 0xBF982318, 0xC0518900],
    [0xC082199C, 0x3F2CA2AC, 0xC054FEC5, 0x7FC00000, 0x400995B7, 0xC0BFCA58, 0x3F50FEB6, 0xC0538793, 0x3DCB1A83, 0x3E060998, 0xC0BEE3A7, 0xBF3344BC, 0xBF44725E, 0x4038B440, 0xC062D679, 0x400DB43C, 0xC05300B6, 0xBF7E6E71, 0xC0215EF0, 0x408B1405, 0x3FDA319F, 0x40E97242, 0x3FF67EF3, 0x40223D15, 0x4021693F, 0xBFE8F057, 0xBE57209D, 0x4081A328, 0xBF984687, 0x3F10FF80, 0xBD82659E, 0x3FE9F06B, 0xBF8C1FFD, 0xBEEA0722, 0x3F3A2621, 0x3E9E3E59, 0xC0261324],
    [0x402BFD87, 0xC0794EF3, 0xC0669D3B, 0xC0763D09, 0x4039A89F, 0x7F800000, 0xC03A7061, 0xC05A1DB9, 0x3FA1B6E0, 0xC04A8787, 0xC0743D30, 0x3FEBC5F9, 0xC065C494, 0xBF77A1EC, 0xBCA62BEF, 0xBFAB023F, 0xBE262D39, 0x408085B3, 0xBFC67CC3, 0xC071C977, 0xC0B053DD, 0xBF1D42A8, 0xBF874446, 0x3F4B96FE, 0xBFB2451A, 0xBFB7CC13, 0xC00A7E1D, 0xBFC79677, 0x3EF61BB4, 0xBF920E32, 0x3E9A4758, 0x40B68394, 0x3FB7FB3B, 0xC0974DFC, 0x40A66B39, 0x3F858F27, 0xC034C059],
    [0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000],
    [0x00000781, 0x800002BB, 0x80000199, 0x0000001A, 0x00000159, 0x000002DE, 0x00000117, 0x8000026F, 0x00000169, 0x000000B2, 0x0000053B, 0x8000000B, 0x800003BA, 0x800002EA, 0x0000040B, 0x80000181, 0x800005DE, 0x8000019E, 0x00000000, 0x00000350, 0x800002D4, 0x000001DC, 0x00000238, 0x800001F3, 0x80000086, 0x000004EF, 0x000004CC, 0x00000263, 0x000000ED, 0x0000032C, 0x80000064, 0x80000044, 0x80000266, 0x00000004, 0x8000003B, 0x000007BB, 0x8000008A]]> : tensor<5x37xf32>
  %y = arith.constant dense<[[0x40000000, 0xC0000000, 0x3F800000, 0xBF800000, 0x3C010204, 0xBC010204, 0x3CC18306, 0xBD214285, 0x40000000, 0x3F872D6C, 0xBE8396EA, 0xBF8C91C6, 0xBEBF47EE, 0xBF0AE711, 0x3F397561, 0x3EE863BB, 0xBE8F7A17, 0xBF2A53E6, 0xBD5CACBA, 0x3FA99EB6, 0x3EB2B38D, 0x3F2391F0, 0xBE1A4C47, 0xBFA55A3C, 0xBF35F9D8, 0x3F26B771, 0x3DD362F7, 0xBF67620D, 0xBFCF1661, 0x3DE2AD31, 0xBEADD702, 0xBEB378B2, 0xBEA8ADAA, 0x3E915C03, 0x3E96C1DA, 0x3F764E0F, 0x3F6DAD09, 0x3FAA8207, 0x3F4E6DCF, 0xBEABD4D1],
    [0xBD5E491D, 0x3EFD09C3, 0xBE9EDEA1, 0x3F0CA805, 0x3F93A97A, 0xBF4D1E75, 0xBFE29BF2, 0x3F98C9B0, 0x3C917D3B, 0x3F356B63, 0xBFAA88FB, 0x3FDDD2B3, 0x3F3D1631, 0xBE011997, 0xBEB437C7, 0x3DE9423E, 0xBE2ABB9F, 0xBE8EB079, 0xBF8F4F0D, 0x3FA1A3BD, 0xBD221C36, 0x3D98DA92, 0x3DBE4ABD, 0xC016ED08, 0x3F06F2BE, 0xBEA886FF, 0xBE9415C1, 0x3D8EECF2, 0xBF78F429, 0x3F57E7CE, 0xBF32242F, 0xBF675622, 0xBF5CB875, 0x3E229011, 0x3F3EEB67, 0xBF185569, 0xBFC14DCC, 0x3F87FFB2, 0xBF8854A9, 0x3F98F034],
    [0xBD5E655A, 0xBF32C70F, 0xBF23D9A8, 0x3EEC79B9, 0x3F63ADDF, 0xBE4AED23, 0x3F726A4B, 0x4005910D, 0xBE554EC8, 0xBF932111, 0xBF86F697, 0xBFB1F682, 0xBF23C11D, 0xBF394999, 0xBFA99CFC, 0x3F07BA28, 0xC027202E, 0xBFA90FF1, 0x4000F9E3, 0x3F84D6B6, 0x3F05D5AD, 0x3EEA1DDC, 0x3FE2AE12, 0x3F091F06, 0x3D9EE0BC, 0xBF9D75E3, 0xBD96DEA1, 0xBF3BDFD2, 0xBF34C7E7, 0xBF36D85D, 0xBD36DFA1, 0xBEA8CFDB, 0x3F5F0119, 0xBFA9C050, 0xBE2D8998, 0x3FEE0404, 0x3D1F52D0, 0x3F996C39, 0x3F9184BE, 0x3FA887EA]]> : tensor<3x40xf32>
  %r = arith.constant dense<[[0xC019F889, 0xC07E46E5, 0xBF3EBDE2, 0x3FA17373, 0x405A1EF6, 0x3EA88250, 0xBFD43771, 0xC016AD86, 0x400FC25A, 0x409CF06E, 0x3F517C86, 0xC06CCC92, 0xC037FCA7, 0x40999A12, 0x3F1BD050, 0xC0A648F2, 0xBE808EAF, 0xC05F56E2, 0xBFF1A589, 0xBFBB64ED, 0xC008F4C7, 0x3FD47F51, 0xBE41CCD4, 0xBFE25773, 0x3F9D4D09, 0x401F550C, 0xC09DBAF1, 0xBF452B32, 0xC03C4DB2, 0xBF04FBB4, 0xC0779183, 0x3D7E3E5A, 0xBDE8C51E, 0xBF69BB3D, 0xC04933AF, 0xBF982318, 0xC0518900]]> : tensor<1x37xf32>
  %b = arith.constant dense<[[0xBF4D4B61, 0xBFA98498, 0xBE7E5282, 0x3ED74499, 0x3F9169F9, 0x3DE0ADC0, 0xBF0D7A4B, 0xBF48E75E, 0x3F3FADCE, 0x3FD14092, 0x3D0BA972, 0xBF9DDDB7, 0xBF7550DE, 0x3FCCCD6D, 0x3E4FC06A, 0xBFDDB698, 0xBDAB68E9, 0xBF94E497, 0xBF211906, 0xBEF9DBE6, 0xBF369BB5, 0x3F0DAA36, 0xBD813338, 0xBF16E4F8, 0x3ED1BC0D, 0x3F547166, 0xBFD24E97, 0xBE837222, 0xBF7B1242, 0xBE314F9A, 0xBFA50BAC, 0x3CA97EE7, 0xAE269F8D, 0xAFA74FBA, 0xB09006A3, 0xAFD9CED5, 0xB095FDB8, 0xB0BA422B, 0x2F77278E, 0xB09877C8, 0x30A0D822, 0x3044F95F, 0xB10949F6, 0x2F959ABC, 0xB0976B35, 0x2E11631F, 0x2E3FE541, 0xB108A4D3, 0xAF80534C, 0xAF8C9F3F, 0x30843762, 0xB0A26076, 0x304ADF14, 0xB0970AAB, 0xAFB6210C, 0xB067070A, 0x30C71CB3, 0x301C3071, 0x31271B7D, 0x303072D9, 0x30684514, 0x306715CC, 0xB026BE7E, 0xAE99FE82],
    [0x4B4E0D91, 0xCA72090F, 0x49E677DA, 0xC84F42A7, 0x4AB9EB0A, 0xCA5EB8FE, 0xC9B9FD17, 0x4A13F019, 0x497B8577, 0xCB03FC00, 0x4B08AF87, 0xCB4621EC, 0xCB374694, 0xCB43B156, 0x4B138C5B, 0xCA5C190F, 0xCB142B1C, 0xCB2D57D6, 0x4A8084DF, 0xCB20F4B7, 0xCB421A8E, 0x4ABB6035, 0xCB369A65, 0xCA44CCF6, 0xC7840FB3, 0xCA87E7D3, 0xC90410BA, 0x4B4C47D7, 0xCA9DBE5B, 0xCB4027AF, 0xCB8C21F1, 0xC9F9F569, 0xBEB45B08, 0x3E87B9FF, 0xBEEDB178, 0xBEF5101A, 0xBF38A826, 0xBF050EFA, 0x3E241278, 0xBEC2BD98, 0x7FC00000, 0x3FF35A1A, 0x3EF54EF9, 0xBFC9BD50, 0x3FDDE44C, 0x3EB21433, 0xBF710076, 0x3F68345C, 0x3C90A280, 0xBF1D7EF6, 0x7F800000, 0xBF7E518C, 0x3D451869, 0x3F88CEFC, 0xBEA66D3B, 0x3ED77642, 0x3FF0152B, 0xBF9B77B5, 0x3E83D9F7, 0xBE9CE54D, 0xBF8795B4, 0xBF834EF6, 0xBC7A6E8A, 0x3EDE2358]]> : tensor<2x64xf32>
  %d0 = call @row(%x) : (tensor<5x37xf32>) -> tensor<5x37xf32>
  %b0 = arith.bitcast %d0 : tensor<5x37xf32> to tensor<5x37xi32>
  %u0 = tensor.cast %b0 : tensor<5x37xi32> to tensor<*xi32>
  call @printMemrefI32(%u0) : (tensor<*xi32>) -> ()
  %d1 = call @away(%x) : (tensor<5x37xf32>) -> tensor<5x37xf32>
  %b1 = arith.bitcast %d1 : tensor<5x37xf32> to tensor<5x37xi32>
  %u1 = tensor.cast %b1 : tensor<5x37xi32> to tensor<*xi32>
  call @printMemrefI32(%u1) : (tensor<*xi32>) -> ()
  %d2 = call @full(%x) : (tensor<5x37xf32>) -> tensor<5x37xf32>
  %b2 = arith.bitcast %d2 : tensor<5x37xf32> to tensor<5x37xi32>
  %u2 = tensor.cast %b2 : tensor<5x37xi32> to tensor<*xi32>
  call @printMemrefI32(%u2) : (tensor<*xi32>) -> ()
  %d3 = call @tensor(%y) : (tensor<3x40xf32>) -> tensor<3x40xf32>
  %b3 = arith.bitcast %d3 : tensor<3x40xf32> to tensor<3x40xi32>
  %u3 = tensor.cast %b3 : tensor<3x40xi32> to tensor<*xi32>
  call @printMemrefI32(%u3) : (tensor<*xi32>) -> ()
  %d4 = call @ties(%y) : (tensor<3x40xf32>) -> tensor<3x40xf32>
  %b4 = arith.bitcast %d4 : tensor<3x40xf32> to tensor<3x40xi32>
  %u4 = tensor.cast %b4 : tensor<3x40xi32> to tensor<*xi32>
  call @printMemrefI32(%u4) : (tensor<*xi32>) -> ()
  %d5 = call @row1(%r) : (tensor<1x37xf32>) -> tensor<1x37xf32>
  %b5 = arith.bitcast %d5 : tensor<1x37xf32> to tensor<1x37xi32>
  %u5 = tensor.cast %b5 : tensor<1x37xi32> to tensor<*xi32>
  call @printMemrefI32(%u5) : (tensor<*xi32>) -> ()
  %d6 = call @blk32h(%b) : (tensor<2x64xf32>) -> tensor<2x64xf32>
  %b6 = arith.bitcast %d6 : tensor<2x64xf32> to tensor<2x64xi32>
  %u6 = tensor.cast %b6 : tensor<2x64xi32> to tensor<*xi32>
  call @printMemrefI32(%u6) : (tensor<*xi32>) -> ()
  %d7 = call @blk16(%b) : (tensor<2x64xf32>) -> tensor<2x64xf32>
  %b7 = arith.bitcast %d7 : tensor<2x64xf32> to tensor<2x64xi32>
  %u7 = tensor.cast %b7 : tensor<2x64xi32> to tensor<*xi32>
  call @printMemrefI32(%u7) : (tensor<*xi32>) -> ()
  %d8 = call @blk32bf(%b) : (tensor<2x64xf32>) -> tensor<2x64xf32>
  %b8 = arith.bitcast %d8 : tensor<2x64xf32> to tensor<2x64xi32>
  %u8 = tensor.cast %b8 : tensor<2x64xi32> to tensor<*xi32>
  call @printMemrefI32(%u8) : (tensor<*xi32>) -> ()
  return
}
