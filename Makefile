# SPDX-License-Identifier: MIT
# A thin layer over CMake. Every target that builds installs missing Debian
# packages first (scripts/deps).
.PHONY: all run test bench fuzz clean deps

BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_QUIET = -DCMAKE_RULE_MESSAGES=OFF --log-level=WARNING

all: deps
	cmake -S . -B $(BUILD)/release -DCMAKE_BUILD_TYPE=Release $(CMAKE_QUIET)
	cmake --build $(BUILD)/release -j $(JOBS)

deps:
	@./scripts/deps

run: all
	$(BUILD)/release/weft web --listen tcp:8080 --path docs

# gcc with ASan+UBSan runs every test (reactor suites once per backend);
# clang builds everything warning-free (fuzz targets included) and runs the
# suite again (with LeakSanitizer linked into the tests, so every test's leak
# check bites in both passes), the fuzz targets over their seed corpora and
# the install check.
test: deps
	cmake -S . -B $(BUILD)/asan -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER=gcc -DWEFT_SANITIZE=ON $(CMAKE_QUIET)
	cmake --build $(BUILD)/asan -j $(JOBS)
	cd $(BUILD)/asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		ctest --output-on-failure -j $(JOBS)
	cmake -S . -B $(BUILD)/clang -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang -DWEFT_FUZZ=ON -DWEFT_BENCH=ON $(CMAKE_QUIET)
	cmake --build $(BUILD)/clang -j $(JOBS)
	cd $(BUILD)/clang && ctest --output-on-failure -j $(JOBS)

bench: deps
	cmake -S . -B $(BUILD)/bench -DCMAKE_BUILD_TYPE=Release -DWEFT_BENCH=ON -DWEFT_TESTS=OFF $(CMAKE_QUIET)
	cmake --build $(BUILD)/bench -j $(JOBS)
	./bench/run $(BUILD)/bench

FUZZ_SECONDS ?= 60
fuzz: deps
	cmake -S . -B $(BUILD)/fuzz -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER=clang -DWEFT_FUZZ=ON -DWEFT_TESTS=OFF $(CMAKE_QUIET)
	cmake --build $(BUILD)/fuzz -j $(JOBS)
	./fuzz/run $(BUILD)/fuzz $(FUZZ_SECONDS)

clean:
	rm -rf $(BUILD)
