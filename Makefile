# mailroom: build, set up, run, test.
#
# A program F/mailroom-X.c links, in this order: its main object, the archive of its folder's
# other .c files (build/F.a), lib/'s archive (build/libmr.a), then the libraries named in
# LIBS_<program> below. The cdb rule of LIBRARIES.md: tinycdb's static archive always comes
# before -lskarnet; libowfat is never linked with skalibs.

SHELL := /bin/bash
CC ?= cc
ifeq ($(CC),cc)
CC := gcc
endif
HOME_RAW := $(or $(MAILROOM_HOME),$(shell head -n 1 conf-home))
HOME_DIR := $(if $(filter /%,$(HOME_RAW)),$(HOME_RAW),$(CURDIR)/$(HOME_RAW))

WARN := -Wall -Wextra -Werror -Wvla -Wno-unused-parameter
CFLAGS_BASE := -std=c11 -D_DEFAULT_SOURCE -D_GNU_SOURCE -O2 -g -Ilib -Ibuild
ifeq ($(SANITIZE),1)
CFLAGS_BASE += -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
endif
ALL_CFLAGS := $(CFLAGS_BASE) $(WARN) $(CFLAGS)

CDB := -l:libcdb.a
SKA := -lskarnet

# --- link lines, one per program, in link order ---------------------------------------------
LIBS_mailroom-queue   := $(SKA)
LIBS_mailroom-inject  := $(SKA)
LIBS_mailroom-send    := $(SKA)
LIBS_mailroom-start   := $(SKA)
LIBS_mailroom-rspawn  := $(SKA)
LIBS_mailroom-lspawn  := $(CDB) $(SKA)
LIBS_mailroom-local   := $(CDB) $(SKA)
LIBS_mailroom-newu    := $(CDB) $(SKA)
LIBS_mailroom-popup   := $(SKA)
LIBS_mailroom-pop3d   := $(SKA)
LIBS_mailroom-checkpassword := $(CDB) $(SKA) -lcrypt
LIBS_mailroom-passwd  := $(CDB) $(SKA) -lcrypt
# mailroom-smtpd is linked statically: one runs per connection, and its memory stays
# under 2 MB that way (the shared libc alone maps more); it reads /etc/passwd itself,
# never getpwnam (smtpd/smtpd_rcpt.c). Not with SANITIZE=1: sanitizers need the dynamic runtime.
LIBS_mailroom-smtpd   := $(if $(filter 1,$(SANITIZE)),,-static) $(CDB) $(SKA)
LIBS_mailroom-newcontrol := $(CDB) $(SKA)
LIBS_mailroom-qstat   := $(SKA)
LIBS_mailroom-qread   := $(SKA)
LIBS_mailroom-qctl    := $(SKA)
LIBS_mailroom-qcheck  := $(SKA)
LIBS_mailroom-report  := $(SKA) -lm
# mailroom-remote is the libowfat program (its DNS resolver): never skalibs with it. Only
# remote/ sees libowfat's headers; its pure modules use libc alone, so unit tests and fuzz
# targets link them beside skalibs without libowfat.
OWFAT := build/owfat/usr/lib/libowfat.a
OWFAT_INC := -Ibuild/owfat/usr/include
# libtls (dynamic, with OpenSSL's libssl and libcrypto) for STARTTLS: nm shows no global
# symbol it shares with libowfat.a.
LIBS_mailroom-remote  := $(OWFAT) -ltls
# The TLS proxy, the only server program linked with libtls (LibreSSL's API; Debian's libretls).
LIBS_mailroom-tlsd    := -ltls $(SKA)

FOLDERS := queue send local smtpd pop3d remote
PROGS := $(notdir $(basename $(foreach f,$(FOLDERS),$(wildcard $(f)/mailroom-*.c))))
BINS := $(addprefix build/bin/,$(PROGS)) build/bin/sendmail build/bin/mailq

LIB_SRC := $(wildcard lib/*.c)
LIB_OBJ := $(patsubst lib/%.c,build/obj/lib/%.o,$(LIB_SRC)) build/obj/auto_home.o
mods = $(filter-out $(1)/mailroom-%.c,$(wildcard $(1)/*.c))
ALL_SRC := $(LIB_SRC) $(foreach f,$(FOLDERS),$(wildcard $(f)/*.c)) $(wildcard TESTS/unit/*.c)

.PHONY: all deps setup run check unit clean relink print-libs fuzz fuzz-build FORCE
all: build/.deps $(BINS)

build/.deps: lib/sh/deps.sh
	@bash lib/sh/deps.sh
	@mkdir -p build && touch $@

deps:
	@bash lib/sh/deps.sh

# The compiled-in home: rewritten only when it changes, so a rebuild is as small as it can be.
build/auto_home.c: FORCE
	@mkdir -p build
	@printf 'char const auto_home[] = "%s";\n' '$(HOME_DIR)' > $@.new
	@if cmp -s $@.new $@; then rm -f $@.new; else mv $@.new $@; fi

build/obj/auto_home.o: build/auto_home.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

build/obj/%.o: %.c build/.deps
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

build/obj/remote/%.o: ALL_CFLAGS += $(OWFAT_INC)

build/libmr.a: $(LIB_OBJ)
	@rm -f $@; ar rcs $@ $^

define folder_rules
build/$(1).a: $(patsubst %.c,build/obj/%.o,$(call mods,$(1))) build/obj/lib/.keep
	@rm -f $$@; ar rcs $$@ $$(filter %.o,$$^)
build/bin/%: build/obj/$(1)/%.o build/$(1).a build/libmr.a
	@mkdir -p build/bin
	$$(CC) $$(LDFLAGS) -o $$@ $$< build/$(1).a build/libmr.a $$(LIBS_$$*)
endef
$(foreach f,$(FOLDERS),$(eval $(call folder_rules,$(f))))
build/obj/lib/.keep:
	@mkdir -p $(dir $@) && touch $@

build/bin/sendmail: | build/.deps
	@mkdir -p build/bin && ln -sf mailroom-inject $@
build/bin/mailq: | build/.deps
	@mkdir -p build/bin && ln -sf mailroom-qread $@

-include $(shell find build/obj -name '*.d' 2>/dev/null)

# --- another instance: the same objects linked with another compiled-in home -----------------
# `make relink RELINK_HOME=/tmp/x RELINK_OUT=/tmp/x/build` gives a test or a second instance
# its own binaries without a second build of everything (only auto_home differs).
relink: all
	@test -n "$(RELINK_OUT)" -a -n "$(RELINK_HOME)" || { echo "relink: set RELINK_HOME and RELINK_OUT" >&2; exit 100; }
	@mkdir -p '$(RELINK_OUT)'
	@printf 'char const auto_home[] = "%s";\n' '$(RELINK_HOME)' > '$(RELINK_OUT)/auto_home.c'
	@$(CC) $(ALL_CFLAGS) -c -o '$(RELINK_OUT)/auto_home.o' '$(RELINK_OUT)/auto_home.c'
	@rm -f '$(RELINK_OUT)/libmr.a' && cp build/libmr.a '$(RELINK_OUT)/libmr.a' && ar rcs '$(RELINK_OUT)/libmr.a' '$(RELINK_OUT)/auto_home.o'
	@for f in $(FOLDERS); do for m in $$f/mailroom-*.c; do [ -e "$$m" ] || continue; p=$$(basename $$m .c); \
	  $(CC) $(LDFLAGS) -o '$(RELINK_OUT)'/$$p build/obj/$$f/$$p.o build/$$f.a '$(RELINK_OUT)/libmr.a' $$(make -s --no-print-directory print-libs P=$$p) || exit 1; done; done
	@ln -sf mailroom-inject '$(RELINK_OUT)/sendmail'
	@ln -sf mailroom-qread '$(RELINK_OUT)/mailq'

print-libs:
	@echo '$(LIBS_$(P))'

# --- unit tests: each TESTS/unit/test_X.c links every folder archive and lib ---------------
UNIT_SRC := $(wildcard TESTS/unit/test_*.c)
UNIT_BINS := $(patsubst TESTS/unit/%.c,build/test/%,$(UNIT_SRC))
FOLDER_ARCHIVES := $(foreach f,$(FOLDERS),build/$(f).a)
build/test/%: build/obj/TESTS/unit/%.o $(FOLDER_ARCHIVES) build/libmr.a
	@mkdir -p build/test
	$(CC) $(LDFLAGS) -o $@ $< $(FOLDER_ARCHIVES) build/libmr.a $(CDB) $(SKA)

unit: all $(UNIT_BINS)

# --- fuzzing: TESTS/fuzz/fuzz_NAME.c, seed corpus in TESTS/fuzz/NAME/ ----------------------
# Built with clang and libFuzzer over every module compiled with coverage, so a target can
# call any parser. `make fuzz` runs each for FUZZ_SECONDS; `make check` replays the corpora.
FUZZ_SECONDS ?= 60
FUZZ_CC := clang
FUZZ_FLAGS := -std=c11 -D_DEFAULT_SOURCE -D_GNU_SOURCE -O1 -g -Ilib -Ibuild -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_SRC := $(wildcard TESTS/fuzz/fuzz_*.c)
FUZZ_BINS := $(patsubst TESTS/fuzz/%.c,build/fuzz/%,$(FUZZ_SRC))
FUZZ_MOD_SRC := $(LIB_SRC) $(foreach f,$(FOLDERS),$(call mods,$(f)))
FUZZ_MOD_OBJ := $(patsubst %.c,build/fuzz/obj/%.o,$(FUZZ_MOD_SRC)) build/fuzz/obj/auto_home.o
build/fuzz/obj/%.o: %.c build/.deps
	@mkdir -p $(dir $@)
	@$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<
build/fuzz/obj/remote/%.o: FUZZ_FLAGS += $(OWFAT_INC)
build/fuzz/obj/auto_home.o: build/auto_home.c
	@mkdir -p $(dir $@)
	@$(FUZZ_CC) $(FUZZ_FLAGS) -c -o $@ $<
build/fuzz/mods.a: $(FUZZ_MOD_OBJ)
	@rm -f $@; ar rcs $@ $^
build/fuzz/%: TESTS/fuzz/%.c build/fuzz/mods.a
	@$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer -o $@ $< build/fuzz/mods.a $(CDB) $(SKA)
fuzz-build: all $(FUZZ_BINS)
fuzz: fuzz-build
	@for b in $(FUZZ_BINS); do n=$${b#build/fuzz/fuzz_}; mkdir -p build/fuzz/corpus/$$n; \
	  echo "fuzz: $$n for $(FUZZ_SECONDS)s"; \
	  $$b -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 build/fuzz/corpus/$$n TESTS/fuzz/$$n 2>&1 | tail -n 3 || exit 1; done

# --- the instance ---------------------------------------------------------------------------
setup: all
	@bash lib/sh/setup.sh '$(HOME_DIR)'

run: setup
	@bash lib/sh/run.sh '$(HOME_DIR)'

check: all $(UNIT_BINS) $(FUZZ_BINS)
	@MRTEST_SANITIZE=$(SANITIZE) bash TESTS/run.sh

clean:
	rm -rf build

# --- static analysis (issue 7): cppcheck and clang-tidy (.clang-tidy) on every .c, each with
# the flags its rule above builds it with; non-zero on any finding. LINT_FILES= limits it.
.PHONY: lint
lint: build/.deps
	@LINT_CFLAGS='$(CFLAGS_BASE) $(WARN)' LINT_OWFAT_INC='$(OWFAT_INC)' LINT_FUZZ_FLAGS='$(FUZZ_FLAGS)' \
	  bash lib/sh/lint.sh $(LINT_FILES)

# --- the benchmark (issue 8): `make bench`, `make bench COMPARE=postfix`, BENCH_SCALE=0.1 ----
# bench/*.c are the harness's own tools (fsync floor, SMTP load client, peak-RSS wrapper),
# built into build/bench with the release flags of the programs (-O2, no sanitizers).
BENCH_TOOLS := $(patsubst bench/%.c,build/bench/%,$(wildcard bench/*.c))
build/bench/%: bench/%.c
	@mkdir -p build/bench
	$(CC) $(ALL_CFLAGS) -pthread -o $@ $< $(BENCH_LDFLAGS)
# static: the RSS before its child's exec counts in the child's peak (bench/peakrss.c)
build/bench/peakrss: BENCH_LDFLAGS := -static
.PHONY: bench
bench: all $(BENCH_TOOLS)
	@bash bench/deps.sh
	@test "$(SANITIZE)" != 1 || { echo "bench: not with SANITIZE=1 (figures need the release build)" >&2; exit 100; }
	@COMPARE='$(COMPARE)' python3 -u bench/run.py
