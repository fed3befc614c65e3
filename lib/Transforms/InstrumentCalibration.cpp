//===- InstrumentCalibration.cpp - record activations at every site ------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#include "Contractions.h"
#include "lowbit/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/SymbolTable.h"

namespace mlir::lowbit {
#define GEN_PASS_DEF_LOWBITINSTRUMENTCALIBRATION
#include "lowbit/Transforms/Passes.h.inc"
} // namespace mlir::lowbit

using namespace mlir;
using namespace mlir::lowbit;

namespace {

constexpr const char *kRecordFn = "lowbitCalibRecord";
constexpr const char *kWrapperFn = "__lowbit_calibrate";

struct LowbitInstrumentCalibrationPass
    : mlir::lowbit::impl::LowbitInstrumentCalibrationBase<
          LowbitInstrumentCalibrationPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    MLIRContext *ctx = &getContext();
    OpBuilder top = OpBuilder::atBlockBegin(module.getBody());
    auto unranked = UnrankedTensorType::get(Float32Type::get(ctx));
    auto recordType =
        FunctionType::get(ctx, {IntegerType::get(ctx, 64), unranked}, {});
    if (module.lookupSymbol(kRecordFn)) {
      module.emitError() << "lowbit-instrument-calibration: @" << kRecordFn
                         << " already exists (instrumented twice?)";
      return signalPassFailure();
    }
    auto record =
        func::FuncOp::create(top, module.getLoc(), kRecordFn, recordType);
    record.setPrivate();
    record->setAttr("llvm.emit_c_interface", UnitAttr::get(ctx));
    // The recorder only reads: one-shot bufferization then passes the
    // activation buffer itself instead of a copy.
    record.setArgAttr(1, "bufferization.access", StringAttr::get(ctx, "read"));

    SmallVector<Attribute> names;
    bool failedAny = false;
    forEachSite(module, [&](Contraction &c, StringRef name) {
      auto t = cast<RankedTensorType>(c.lhs.getType());
      if (!t.getElementType().isF32()) {
        c.op->emitOpError("lowbit-instrument-calibration (site '")
            << name << "'): activations must be f32, got " << t;
        failedAny = true;
        return;
      }
      OpBuilder b(c.op);
      Location loc = c.op->getLoc();
      Value id = arith::ConstantOp::create(
          b, loc, b.getI64IntegerAttr(int64_t(names.size())));
      Value u = tensor::CastOp::create(b, loc, unranked, c.lhs);
      func::CallOp::create(b, loc, record, ValueRange{id, u});
      names.push_back(StringAttr::get(ctx, name));
    });
    if (failedAny)
      return signalPassFailure();
    module->setAttr(LowbitDialect::CalibrationSitesAttrHelper::getNameStr(),
                    ArrayAttr::get(ctx, names));

    if (entry.empty())
      return;
    auto fn = module.lookupSymbol<func::FuncOp>(entry);
    if (!fn || fn.isExternal()) {
      module.emitError() << "lowbit-instrument-calibration: no function @"
                         << entry << " with a body";
      return signalPassFailure();
    }
    for (Type t : fn.getArgumentTypes()) {
      auto rt = dyn_cast<RankedTensorType>(t);
      if (!rt || !rt.hasStaticShape() || !rt.getElementType().isF32()) {
        fn.emitError() << "lowbit-instrument-calibration: the entry's "
                          "arguments must be static f32 tensors, got "
                       << t;
        return signalPassFailure();
      }
    }
    OpBuilder b = OpBuilder::atBlockEnd(module.getBody());
    auto wrapper =
        func::FuncOp::create(b, fn.getLoc(), kWrapperFn,
                             FunctionType::get(ctx, fn.getArgumentTypes(), {}));
    wrapper->setAttr("llvm.emit_c_interface", UnitAttr::get(ctx));
    Block *body = wrapper.addEntryBlock();
    b.setInsertionPointToStart(body);
    func::CallOp::create(b, fn.getLoc(), fn, body->getArguments());
    func::ReturnOp::create(b, fn.getLoc());
  }
};

} // namespace
