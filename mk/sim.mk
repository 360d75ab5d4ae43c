# The local cloud simulator (sim) and Azurite, in the background, for demos and manual work.
# `make sim-up` writes .sim/env (source it: `. .sim/env`); `make sim-down` stops both. State is kept in
# .sim/run (state.json, Azurite data) for inspection; each sim-up starts empty unless SIM_KEEP=1.
SIM_STATE := .sim
SIM_KEEP ?=

sim-up: setup
	@mkdir -p $(SIM_STATE)
	@if [ -f $(SIM_STATE)/env ]; then sim/bin/sim-down --env-file $(SIM_STATE)/env; fi
	@if [ -z "$(SIM_KEEP)" ]; then rm -rf $(SIM_STATE)/run; fi
	@sim/bin/sim-up --state-dir $(SIM_STATE)/run --env-file $(SIM_STATE)/env >/dev/null
	@cat $(SIM_STATE)/env
	@echo "# simulator up: run '. $(SIM_STATE)/env' to use it; 'make sim-down' stops it" >&2

sim-down:
	@sim/bin/sim-down --env-file $(SIM_STATE)/env
