# Thin wrapper over scripts/ and CMake presets.
.PHONY: deps build test unit demo bench clean format format-check
deps:
	scripts/install-deps
build: deps
	scripts/build
test:
	scripts/run-tests
unit:
	scripts/run-tests -L unit
demo:
	scripts/run-main $(DATA)
bench: build
	bench/run_image_bench.sh build/release
	bench/run_glucose_bench.sh build/release
clean:
	rm -rf build
format:
	scripts/format
format-check:
	scripts/format --check
