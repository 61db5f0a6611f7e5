# fleetd - one non-recursive Makefile.
#   make            build fleetd (-Wall -Wextra -Werror)
#   make deps       install the Debian packages the project needs
#   make run        deps + build + start fleetd (and the MQTT broker it supervises) in the foreground
#   make test       unit + integration + mqtt + fuzz replay, plain and ASan+UBSan
#   make mtest      the MQTT suite alone (fleetd + mosquitto + mosquitto_fleet.so)
#   make bench      fleetd vs moto_server, and mosquitto bare vs + plugin, same run
#   make fuzz       libFuzzer on every target (FUZZ_SECONDS each)
#   make format-check / lint

CC       ?= cc
SANITIZE ?=
ifeq ($(SANITIZE),1)
BUILD    ?= build/asan
SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
OPT      := -O1
else
BUILD    ?= build/release
SANFLAGS :=
OPT      := -O2
endif

PKGS     := libmicrohttpd jansson sqlite3 openssl
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CHECK_CFLAGS := $(shell pkg-config --cflags check 2>/dev/null)
CHECK_LIBS   := $(shell pkg-config --libs check 2>/dev/null)

WARN     := -Wall -Wextra -Werror -Wshadow -Wpointer-arith -Wstrict-prototypes -Wmissing-prototypes \
            -Wno-missing-field-initializers
CFLAGS   := -std=c11 -D_GNU_SOURCE -g $(OPT) -fPIC -pthread $(WARN) $(SANFLAGS) $(PKG_CFLAGS) \
            -Iserver/core -Iserver/net -Ica -I$(BUILD)/gen
LDFLAGS  := -pthread $(SANFLAGS)
LIBS     := $(PKG_LIBS) -lm
PLUGIN_LIBS := $(shell pkg-config --libs jansson sqlite3 openssl 2>/dev/null) -lm -lcbor

CORE_SRC := $(wildcard server/core/*.c)
CA_SRC   := $(filter-out ca/fleet_ca.c,$(wildcard ca/*.c))
HTTP_SRC := $(filter-out server/http/main.c,$(wildcard server/http/*.c))
NET_SRC  := $(wildcard server/net/*.c)
SCHEMA   := $(sort $(wildcard schema/*.sql))
UNIT_SRC := $(wildcard tests/unit/*.c)
PLUGIN_SRC := $(wildcard broker-plugin/*.c)
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_NAMES := $(patsubst tests/fuzz/%.c,%,$(FUZZ_SRC))

CORE_OBJ := $(patsubst %.c,$(BUILD)/%.o,$(CORE_SRC)) $(BUILD)/gen/schema_sql.o
HTTP_OBJ := $(patsubst %.c,$(BUILD)/%.o,$(HTTP_SRC))
NET_OBJ  := $(patsubst %.c,$(BUILD)/%.o,$(NET_SRC))
UNIT_OBJ := $(patsubst %.c,$(BUILD)/%.o,$(UNIT_SRC))
CA_OBJ   := $(patsubst %.c,$(BUILD)/%.o,$(CA_SRC))
PLUGIN_OBJ := $(patsubst %.c,$(BUILD)/%.o,$(PLUGIN_SRC))

FLEETD   := $(BUILD)/fleetd
CORE_LIB := $(BUILD)/libfleetcore.a
HTTP_LIB := $(BUILD)/libfleethttp.a
# outbound network clients (server/net: the hooks' HTTP(S) client, the
# MQTT packets of internal broker clients): fleetd, the plugin, tests
NET_LIB  := $(BUILD)/libfleetnet.a
CA_LIB   := $(BUILD)/libfleetca.a
FLEET_CA := $(BUILD)/fleet-ca
PLUGIN_SO  := $(BUILD)/mosquitto_fleet.so
PLUGIN_LIB := $(BUILD)/libfleetplugin.a
# core and ca call each other (certificates use the CA; the CA reports
# errors as fl_err): link them as one group.
LINK_LIBS = -Wl,--start-group $(HTTP_LIB) $(NET_LIB) $(CORE_LIB) $(CA_LIB) -Wl,--end-group
LINK_DEPS = $(HTTP_LIB) $(NET_LIB) $(CORE_LIB) $(CA_LIB)
UNIT_BIN := $(BUILD)/check_unit
REPLAY_BINS := $(patsubst %,$(BUILD)/fuzz-replay/%,$(FUZZ_NAMES))
LOADGEN  := $(BUILD)/loadgen
MQTTGEN  := $(BUILD)/mqttgen

.PHONY: all deps run test test-plain test-asan unit itest mtest sdk-deps fuzz-replay fuzz bench clean format format-check lint lint-layers

all: $(FLEETD) $(FLEET_CA) $(PLUGIN_SO) $(UNIT_BIN) $(REPLAY_BINS) $(LOADGEN) $(MQTTGEN)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/gen/schema_sql.c: $(SCHEMA) schema/embed.sh
	@mkdir -p $(dir $@)
	sh schema/embed.sh $(SCHEMA) > $@

$(BUILD)/gen/schema_sql.o: $(BUILD)/gen/schema_sql.c
	$(CC) $(CFLAGS) -Iserver/core -c $< -o $@

$(CORE_LIB): $(CORE_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(HTTP_LIB): $(HTTP_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(CA_LIB): $(CA_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(NET_LIB): $(NET_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(FLEETD): $(BUILD)/server/http/main.o $(LINK_DEPS)
	$(CC) $(LDFLAGS) -o $@ $< $(LINK_LIBS) $(LIBS)

$(FLEET_CA): $(BUILD)/ca/fleet_ca.o $(LINK_DEPS)
	$(CC) $(LDFLAGS) -o $@ $< $(LINK_LIBS) $(LIBS)

$(UNIT_BIN): $(UNIT_OBJ) $(PLUGIN_LIB) $(NET_LIB) $(HTTP_LIB) $(CORE_LIB) $(CA_LIB)
	$(CC) $(LDFLAGS) -o $@ $(UNIT_OBJ) -Wl,--start-group $(PLUGIN_LIB) $(NET_LIB) $(HTTP_LIB) $(CORE_LIB) $(CA_LIB) \
	    -Wl,--end-group $(CHECK_LIBS) $(LIBS) -lcbor

$(BUILD)/tests/unit/%.o: CFLAGS += $(CHECK_CFLAGS) -Iserver/http -Ibroker-plugin

# The broker plugin. Only mosquitto_plugin_version/init/cleanup are
# exported: the plugin's objects are built with hidden visibility and the
# archives' symbols are made local (--exclude-libs), so libfleet cannot
# clash with the broker or another plugin. mosquitto_* symbols resolve
# against the broker executable at load time. The .a is what tests link.
$(BUILD)/broker-plugin/%.o: CFLAGS += -fvisibility=hidden

$(PLUGIN_LIB): $(PLUGIN_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(PLUGIN_SO): $(PLUGIN_OBJ) $(NET_LIB) $(CORE_LIB) $(CA_LIB)
	$(CC) $(LDFLAGS) -shared -Wl,--exclude-libs,ALL -o $@ $(PLUGIN_OBJ) \
	    -Wl,--start-group $(NET_LIB) $(CORE_LIB) $(CA_LIB) -Wl,--end-group $(PLUGIN_LIBS)

# fuzz targets may also test the plugin's pure parts (payload.c): only the
# archive members a target uses are linked, so none needs the broker.
$(BUILD)/fuzz-replay/%: $(BUILD)/tests/fuzz/%.o $(BUILD)/tests/fuzz/replay.o $(PLUGIN_LIB) $(LINK_DEPS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(BUILD)/tests/fuzz/$*.o $(BUILD)/tests/fuzz/replay.o \
	    -Wl,--start-group $(PLUGIN_LIB) $(HTTP_LIB) $(NET_LIB) $(CORE_LIB) $(CA_LIB) -Wl,--end-group $(LIBS) -lcbor

$(BUILD)/tests/fuzz/%.o: CFLAGS += -Iserver/http -Ibroker-plugin

$(LOADGEN): $(BUILD)/bench/loadgen.o $(LINK_DEPS)
	$(CC) $(LDFLAGS) -o $@ $< $(LINK_LIBS) $(LIBS)

$(BUILD)/bench/%.o: CFLAGS += -Iserver/http

# the MQTT load generator: libmosquitto + OpenSSL only, nothing of fleetd
$(MQTTGEN): $(BUILD)/bench/mqttgen.o
	$(CC) $(LDFLAGS) -o $@ $< -lmosquitto -lssl -lcrypto

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# ---- packages ---------------------------------------------------------------
DEB_PKGS := build-essential pkg-config xxd libmicrohttpd-dev libjansson-dev libsqlite3-dev libssl-dev \
            check mosquitto mosquitto-clients libmosquitto-dev mosquitto-dev python3-paho-mqtt awscli \
            libcbor-dev wrk clang faketime valgrind
deps:
	@missing=""; for p in $(DEB_PKGS); do \
	    dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	    echo "installing:$$missing"; \
	    SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	    $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	else echo "deps: all packages present"; fi

run: deps
	@$(MAKE) --no-print-directory $(FLEETD) $(PLUGIN_SO)
	exec $(FLEETD) serve

# ---- tests ------------------------------------------------------------------
test: deps sdk-deps
	@mkdir -p build
	@rm -f build/test-results.txt
	@$(MAKE) --no-print-directory test-plain
	@$(MAKE) --no-print-directory test-asan
	@sh tests/summary.sh build/test-results.txt

test-plain:
	@$(MAKE) --no-print-directory BUILD=build/release all
	@sh tests/run_suites.sh build/release plain build/test-results.txt

test-asan:
	@$(MAKE) --no-print-directory SANITIZE=1 BUILD=build/asan all
	@sh tests/run_suites.sh build/asan asan build/test-results.txt

# The AWS IoT Device SDK v2 for JavaScript + mqtt.js for tests/mqtt/test_sdk.py,
# pinned by tests/sdk/package-lock.json (npm registry). Without npm the SDK
# tests are skipped (and say so).
sdk-deps:
	@if [ -d tests/sdk/node_modules/aws-iot-device-sdk-v2 ] && [ -d tests/sdk/node_modules/mqtt ]; then :; \
	elif command -v npm >/dev/null 2>&1; then \
	    echo "sdk-deps: npm ci in tests/sdk"; cd tests/sdk && npm ci --no-audit --no-fund --loglevel=error; \
	else echo "sdk-deps: npm not found: tests/mqtt/test_sdk.py will be skipped"; fi

# the MQTT suite alone: fleetd + mosquitto + the plugin of this build
mtest: $(FLEETD) $(PLUGIN_SO) sdk-deps
	FLEETD_BIN=$(FLEETD) python3 tests/mqtt/run.py

unit: $(UNIT_BIN)
	$(UNIT_BIN)

itest: $(FLEETD)
	FLEETD_BIN=$(FLEETD) python3 tests/integration/run.py

fuzz-replay: $(REPLAY_BINS)
	@for t in $(FUZZ_NAMES); do $(BUILD)/fuzz-replay/$$t tests/fuzz/corpus/$$t || exit 1; done

FUZZ_SECONDS ?= 60
FUZZ_BUILD := build/fuzz
fuzz:
	@$(MAKE) --no-print-directory CC=clang BUILD=$(FUZZ_BUILD) \
	    SANFLAGS="-fsanitize=fuzzer-no-link,address,undefined" $(FUZZ_BUILD)/libfleetcore.a $(FUZZ_BUILD)/libfleethttp.a \
	    $(FUZZ_BUILD)/libfleetca.a $(FUZZ_BUILD)/libfleetplugin.a $(FUZZ_BUILD)/libfleetnet.a
	@for t in $(FUZZ_NAMES); do \
	    clang $(filter-out -Werror,$(CFLAGS)) -Iserver/http -Ibroker-plugin -fsanitize=fuzzer,address,undefined tests/fuzz/$$t.c \
	      -Wl,--start-group $(FUZZ_BUILD)/libfleetplugin.a $(FUZZ_BUILD)/libfleethttp.a $(FUZZ_BUILD)/libfleetnet.a \
	      $(FUZZ_BUILD)/libfleetcore.a $(FUZZ_BUILD)/libfleetca.a -Wl,--end-group $(LIBS) -lcbor -o $(FUZZ_BUILD)/$$t || exit 1; \
	    mkdir -p $(FUZZ_BUILD)/corpus-$$t; \
	    $(FUZZ_BUILD)/$$t -max_total_time=$(FUZZ_SECONDS) $(FUZZ_BUILD)/corpus-$$t tests/fuzz/corpus/$$t || exit 1; \
	done

bench: deps
	@$(MAKE) --no-print-directory $(FLEETD) $(LOADGEN) $(MQTTGEN) $(PLUGIN_SO)
	sh bench/run.sh $(BUILD)

FORMAT_FILES = $(wildcard server/*/*.[ch] broker-plugin/*.[ch] ca/*.[ch] tests/unit/*.[ch] tests/fuzz/*.[ch] bench/*.c)
format:
	clang-format -i $(FORMAT_FILES)

format-check:
	clang-format --dry-run --Werror $(FORMAT_FILES)

lint-layers:
	@! grep -l 'microhttpd.h\|mosquitto' server/core/*.[ch] ca/*.[ch] 2>/dev/null | grep . || (echo "core must not know HTTP/MQTT"; exit 1)
	@! grep -l 'sqlite3.h' $$(ls server/*/*.[ch] broker-plugin/*.[ch] | grep -v 'server/core/store') 2>/dev/null | grep . || (echo "sqlite3.h outside store"; exit 1)
	@echo "lint-layers: ok"

lint: lint-layers
	cppcheck --quiet --error-exitcode=1 --enable=warning,portability --suppress=missingIncludeSystem \
	    --include=/usr/include/jansson.h -Iserver/core -Iserver/http -Iserver/net -Ica -Ibroker-plugin \
	    server/core server/http server/net ca broker-plugin

clean:
	rm -rf build
