# LegSeg: the two commands that matter are `make demo` (set up, build, run the main job on the bundled synthetic
# sample) and `make test` (set up, run the tests). Both install missing Debian packages first.
SWIFT ?= swift
APT_PACKAGES := libdnnl-dev zlib1g-dev
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
LEGSEG := .build/release/legseg
DEMO_DIR := out/demo
# Labels the bundled thigh and lower-leg networks produce (the phantom also has hip muscles, foot bones, sacrum).
NETWORK_LABELS := 1-28,31-52,55-66,101-110,151

.PHONY: deps build demo test bench-io clean

# Install the C libraries LegSeg links (oneDNN, zlib) when they are missing.
deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then echo "installing:$$missing"; $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq $$missing; fi

build: deps
	$(SWIFT) build -c release --product legseg

# The main job on the synthetic sample: a two-leg hip-to-ankle phantom (out-phase, 1.5x1.5x6 mm) segmented with
# the bundled networks, then scored against the phantom's own truth.
demo: build
	@mkdir -p $(DEMO_DIR)
	$(LEGSEG) phantom --out $(DEMO_DIR) --count 1 --seed 1
	$(LEGSEG) segment $(DEMO_DIR)/phantom_0000_image.nii.gz -o $(DEMO_DIR)/phantom_0000_segmented.nii.gz --force
	$(LEGSEG) evaluate $(DEMO_DIR)/phantom_0000_segmented.nii.gz $(DEMO_DIR)/phantom_0000_labels.nii.gz \
		--labels $(NETWORK_LABELS) --names standardized --csv $(DEMO_DIR)/phantom_0000_evaluation.csv

test: deps
	$(SWIFT) test

# Reading speed against nibabel (needs `pip install nibabel` and ../shared/data/qmritools).
bench-io: build
	python3 Benchmarks/bench_io.py

clean:
	rm -rf .build out
