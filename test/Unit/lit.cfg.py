# -*- Python -*-
# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
#
# lowbit's GoogleTest binaries (every *Tests executable under build/test/Unit)
# run as lit tests, so `ninja check-lowbit` runs them with the rest.

import lit.formats

config.name = "LOWBIT-Unit"
config.suffixes = []
config.excludes = ["CMakeFiles"]
config.test_source_root = config.lowbit_unit_dir
config.test_exec_root = config.lowbit_unit_dir
config.test_format = lit.formats.GoogleTest(".", "Tests")
