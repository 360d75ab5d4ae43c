# Build of the drhost binary (host/ + modules/*.c). Owned by the host part.
#
# Every modules/NAME.c that defines `int luaopen_NAME(lua_State *L)` becomes a preloaded module
# NAME (the table is generated into $(BUILD)/gen/preload.c); other modules/*.c files (helpers such
# as modules/http_parse.c) are just compiled in. host/lua/*.lua are embedded as `drhost.NAME`.
CC ?= cc
CLANG ?= clang
PKG_CONFIG ?= pkg-config
HOST_PKGS := lua5.4 libcurl libssl libcrypto libedit
HOST_PKG_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(HOST_PKGS) 2>/dev/null)
HOST_PKG_LIBS := $(shell $(PKG_CONFIG) --libs $(HOST_PKGS) 2>/dev/null)
HOST_WARN := -Wall -Wextra -Werror
HOST_CPPFLAGS := -D_GNU_SOURCE -Ihost -Imodules/common -Imodules -I$(BUILD)/gen $(HOST_PKG_CFLAGS)
HOST_CFLAGS := -std=c11 $(HOST_WARN) -O2 -g
HOST_LDLIBS := $(HOST_PKG_LIBS) -lpthread -lm
DRHOST_VERSION ?= $(shell git describe --always 2>/dev/null || echo unknown)

HOST_SRCS = $(sort $(wildcard host/*.c) $(wildcard modules/*.c) $(wildcard modules/common/*.c))
HOST_LUA = $(sort $(wildcard host/lua/*.lua))
HOST_GEN = $(BUILD)/gen/preload.c $(BUILD)/gen/embedded.c
HOST_OBJS = $(patsubst %.c,$(BUILD)/obj/%.o,$(HOST_SRCS)) $(patsubst %.c,%.o,$(HOST_GEN))
HOST_ASAN_OBJS = $(patsubst %.c,$(BUILD)/obj-asan/%.o,$(HOST_SRCS)) \
                 $(patsubst $(BUILD)/gen/%.c,$(BUILD)/obj-asan/gen/%.o,$(HOST_GEN))
ASAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

.PHONY: all asan lint fuzz FORCE
all: $(DRHOST)
asan: $(DRHOST_ASAN)

# The generated sources are rewritten only when their content changes.
$(BUILD)/gen/preload.c: FORCE
	@mkdir -p $(@D)
	@mk/gen-preload.sh preload $(wildcard modules/*.c) > $@.$$$$.tmp; \
	  cmp -s $@.$$$$.tmp $@ && rm -f $@.$$$$.tmp || mv -f $@.$$$$.tmp $@
$(BUILD)/gen/embedded.c: FORCE
	@mkdir -p $(@D)
	@mk/gen-preload.sh embed $(HOST_LUA) > $@.$$$$.tmp; \
	  cmp -s $@.$$$$.tmp $@ && rm -f $@.$$$$.tmp || mv -f $@.$$$$.tmp $@
$(BUILD)/gen/version.h: FORCE
	@mkdir -p $(@D)
	@printf '#define DRHOST_VERSION "%s"\n' "$(DRHOST_VERSION)" > $@.$$$$.tmp; \
	  cmp -s $@.$$$$.tmp $@ && rm -f $@.$$$$.tmp || mv -f $@.$$$$.tmp $@
FORCE:

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(HOST_CPPFLAGS) $(HOST_CFLAGS) $(CFLAGS) -MMD -MP -MT $@ -MF $(@:.o=.d) -c $< -o $@.$$$$.tmp && mv -f $@.$$$$.tmp $@
$(BUILD)/gen/%.o: $(BUILD)/gen/%.c
	$(CC) $(HOST_CPPFLAGS) $(HOST_CFLAGS) $(CFLAGS) -c $< -o $@.$$$$.tmp && mv -f $@.$$$$.tmp $@
$(DRHOST): $(HOST_OBJS)
	$(CC) $(HOST_CFLAGS) $(LDFLAGS) -rdynamic -o $@.$$$$.tmp $(HOST_OBJS) $(HOST_LDLIBS) && mv -f $@.$$$$.tmp $@

$(BUILD)/obj-asan/gen/%.o: $(BUILD)/gen/%.c
	@mkdir -p $(@D)
	$(CC) $(HOST_CPPFLAGS) $(HOST_CFLAGS) -O1 $(ASAN_FLAGS) -c $< -o $@.$$$$.tmp && mv -f $@.$$$$.tmp $@
$(BUILD)/obj-asan/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(HOST_CPPFLAGS) $(HOST_CFLAGS) -O1 $(ASAN_FLAGS) -MMD -MP -MT $@ -MF $(@:.o=.d) -c $< -o $@.$$$$.tmp && mv -f $@.$$$$.tmp $@
$(DRHOST_ASAN): $(HOST_ASAN_OBJS)
	$(CC) $(HOST_CFLAGS) -O1 $(ASAN_FLAGS) $(LDFLAGS) -rdynamic -o $@.$$$$.tmp $(HOST_ASAN_OBJS) $(HOST_LDLIBS) && mv -f $@.$$$$.tmp $@

# Only the files printing the version depend on it (a commit must not rebuild everything).
$(BUILD)/obj/host/main.o $(BUILD)/obj/host/repl.o $(BUILD)/obj-asan/host/main.o $(BUILD)/obj-asan/host/repl.o: $(BUILD)/gen/version.h

-include $(wildcard $(BUILD)/obj/*/*.d $(BUILD)/obj/*/*/*.d $(BUILD)/obj-asan/*/*.d $(BUILD)/obj-asan/*/*/*.d)

# Static analysis: cppcheck + clang-tidy over C, luacheck over Lua.
lint:
	@tools/lint.sh

# Each spec/fuzz/fuzz_*.c for FUZZ_SECONDS (default 60).
FUZZ_SECONDS ?= 60
fuzz:
	@FUZZ_SECONDS=$(FUZZ_SECONDS) spec/fuzz/run.sh
