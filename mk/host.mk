# Build of the drhost binary (host/ + modules/*.c). Owned by the host part.
CC ?= cc
all: $(DRHOST)
asan: $(DRHOST_ASAN)
$(DRHOST) $(DRHOST_ASAN):
	@echo "host not built yet" >&2; exit 1
