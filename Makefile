# sluice - build, run, test.  See README.md.
#
#   make            build build/sluiced and build/sluice
#   make run        install missing Debian packages, build, run sluiced
#   make test       unit tests, transcripts, integration tests, sanitizers
#   make fuzz       run every fuzz target for a short, bounded time
#   make bench      benchmarks against peers (bench/RESULTS.md)

CC       ?= cc
BUILD    ?= build
PKGS     := libevent libevent_pthreads libevent_openssl openssl libcares \
            libconfig libcrypt sqlite3
WARN     := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
            -Wformat=2 -Wno-format-nonliteral -Wno-format-truncation -Werror
OPT      ?= -O2 -g
# integration tests run in parallel (pytest-xdist): most of their time is
# spent waiting on sockets and timers, not on the two CPUs
PYTEST_JOBS ?= 4
SAN      ?=
CFLAGS   += -std=c17 -D_GNU_SOURCE $(OPT) $(WARN) $(SAN) -Isrc \
            $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS   += $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread
LDFLAGS  += $(SAN)

LIB_SRC  := $(filter-out src/server/main.c src/cli/main.c, \
              $(wildcard src/util/*.c src/smtp/*.c src/policy/*.c \
                         src/conf/*.c src/net/*.c src/server/*.c \
                         src/queue/*.c src/probe/*.c src/cli/*.c \
                         src/web/*.c))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

all: $(BUILD)/sluiced $(BUILD)/sluice

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/libsluice.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/sluiced: $(BUILD)/src/server/main.o $(BUILD)/libsluice.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/sluice: $(BUILD)/src/cli/main.o $(BUILD)/libsluice.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(BUILD)/libsluice.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcmocka

$(BUILD)/tests/transcript: $(BUILD)/tests/transcripts/replay.o $(BUILD)/libsluice.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

deps:
	scripts/deps.sh

run: deps all
	$(BUILD)/sluiced

# The web relay tester on http://127.0.0.1:8025/ (lab mode: loopback
# targets allowed, so it can test the sluiced of `make run`).
run-web: deps all
	@mkdir -p var
	$(BUILD)/sluice web -c etc/web-lab.conf

unit: $(UNIT_BIN) $(BUILD)/tests/transcript
	@set -e; for t in $(UNIT_BIN); do echo "== $$t"; $$t; done
	tests/transcripts/run.sh $(BUILD)/tests/transcript

# The unit tests and transcripts again under AddressSanitizer and UBSan.
asan:
	$(MAKE) BUILD=build/asan OPT="-O1 -g -fno-omit-frame-pointer" \
	    SAN="-fsanitize=address,undefined -fno-sanitize-recover=all" unit

# sluiced built with sanitizers, for the integration tests.
asan-bin:
	$(MAKE) BUILD=build/asan OPT="-O1 -g -fno-omit-frame-pointer" \
	    SAN="-fsanitize=address,undefined -fno-sanitize-recover=all" \
	    build/asan/sluiced build/asan/sluice

integration: all
	/usr/bin/python3 -m pytest -q -x -n $(PYTEST_JOBS) tests/integration

# The integration suite again against sluiced and sluice built with
# AddressSanitizer and UBSan: a leak, an overflow or undefined behaviour
# anywhere a test reaches fails the test that reached it.
integration-asan: asan-bin
	SLUICED=$(CURDIR)/build/asan/sluiced SLUICE=$(CURDIR)/build/asan/sluice \
	    /usr/bin/python3 -m pytest -q -x -n $(PYTEST_JOBS) tests/integration

test: deps all unit asan integration integration-asan fuzz-check docs-check

# Every fuzz target builds, every past crash stays fixed, and each target
# runs briefly over its seed corpus (`make fuzz` runs them longer).
fuzz-check:
	$(MAKE) -C fuzz -j2 all
	$(MAKE) -C fuzz repro
	$(MAKE) -C fuzz run FUZZ_SECONDS=2

docs-check: $(BUILD)/sluiced
	scripts/check-docs.sh $(BUILD)/sluiced

fuzz:
	$(MAKE) -C fuzz run

bench: all
	bench/run.sh

format:
	clang-format -i $(wildcard src/*/*.c src/*/*.h tests/unit/*.c fuzz/*.c)

clean:
	rm -rf build

.PHONY: all deps run run-web unit asan asan-bin integration integration-asan test docs-check fuzz \
        fuzz-check \
        bench format clean
.SECONDARY:

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
