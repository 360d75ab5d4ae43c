# drhost: top-level targets. Fragments in mk/ hold the details of each part.
SHELL := /bin/bash
.DEFAULT_GOAL := all

BUILD ?= build
DRHOST := $(BUILD)/drhost
DRHOST_ASAN := $(BUILD)/drhost-asan

include mk/host.mk
include mk/sim.mk

.PHONY: all setup test demo bench lint fuzz clean sim-up sim-down

# SETUP and DEMO_SCRIPT can be overridden (the build spec replaces them with stand-ins).
SETUP ?= tools/setup.sh
DEMO_SCRIPT ?= tools/demo.sh

setup:
	@$(SETUP)

# Every test: C (through Lua specs, ASan/UBSan, valgrind, fuzz), Lua, simulator.
# setup runs first and alone: the build's flags come from pkg-config, which answers only once setup
# has installed the packages, so the build is a second make that reads the Makefile afresh.
test: setup
	@$(MAKE) --no-print-directory all asan
	@tools/run-tests.sh

demo: setup
	@$(MAKE) --no-print-directory all
	@$(DEMO_SCRIPT)

bench: setup
	@$(MAKE) --no-print-directory all
	@tools/bench.sh

clean:
	rm -rf $(BUILD)
