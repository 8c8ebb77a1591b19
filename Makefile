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
RELEASE_CC := $(CC)
RELEASE_CFLAGS := $(CFLAGS_BASE) $(WARN) $(CFLAGS)
# A make started by a test (make relink) gets no MAKEFLAGS from `make check SANITIZE=1`
# (TESTS/lib/mrinst.py drops them): it takes the build's kind from the runner's environment,
# or it would relink every object without sanitizers in the middle of the run.
SANITIZE ?= $(MRTEST_SANITIZE)
# SANITIZE=1: every program under ASan and UBSan. Reports go to files in SANLOG (see
# TESTS/sanitize/sanopts.c, linked into each program); TESTS/run.sh fails a test file that
# leaves one there. One folder per checkout, in /tmp so that every uid can reach it.
SANLOG := /tmp/mailroom-sanlog.$(firstword $(shell printf %s '$(CURDIR)' | cksum))
SAN_OBJ :=
ifeq ($(SANITIZE),1)
# clang: with gcc 12, UBSan's runtime beside ASan's ignores log_path (observed: its reports
# go to stderr only, which for a program under tcpserver is the client's socket or a log).
SAN_CC ?= clang
CC := $(SAN_CC)
CFLAGS_BASE += -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
SAN_OBJ := build/obj/sanopts.o
endif
ALL_CFLAGS := $(CFLAGS_BASE) $(WARN) $(CFLAGS)

CDB := -l:libcdb.a
SKA := -lskarnet

# --- link lines, one per program, in link order ---------------------------------------------
# The programs started once per message or per connection are linked statically: an exec of a
# static binary skips the dynamic loader and its relocations, about a third of the CPU of a
# fork+exec here (doc/INTERNALS.md, Performance). Only those that never look up users through
# NSS (getpwnam): lspawn and inject do, and stay dynamic. Sanitizers need the dynamic runtime.
STATIC := $(if $(filter 1,$(SANITIZE)),,-static)
LIBS_mailroom-queue   := $(STATIC) $(SKA)
# the queue writer (issue 14): long-lived, so static buys nothing; no NSS lookups either
LIBS_mailroom-queued  := $(SKA)
# sendmail is exec'd once per message by scripts and looks up users through NSS, so libc
# stays dynamic, but skalibs is linked in: one shared library fewer for the loader to map and
# relocate per injection (issue 14, figure 3: about 0.3 ms of the 3 ms that one costs).
LIBS_mailroom-inject  := -l:libskarnet.a
# send, qstat, qread, qctl and qcheck read control/virtualdomains.cdb (lib/vdomain_db.c)
LIBS_mailroom-send    := $(CDB) $(SKA)
LIBS_mailroom-start   := $(SKA)
# rspawn links the worker protocol (remote/remote_wproto.c, libc only) from build/remote.a
LIBS_mailroom-rspawn  := build/remote.a $(SKA)
build/bin/mailroom-rspawn: build/remote.a
LIBS_mailroom-lspawn  := $(CDB) $(SKA)
LIBS_mailroom-local   := $(STATIC) $(CDB) $(SKA)
LIBS_mailroom-newu    := $(CDB) $(SKA)
LIBS_mailroom-popup   := $(STATIC) $(SKA)
LIBS_mailroom-pop3d   := $(STATIC) $(SKA)
LIBS_mailroom-checkpassword := $(CDB) $(SKA) -lcrypt
LIBS_mailroom-passwd  := $(CDB) $(SKA) -lcrypt
# mailroom-smtpd is linked statically: one runs per connection, and its memory stays
# under 2 MB that way (the shared libc alone maps more); it reads /etc/passwd itself,
# never getpwnam (smtpd/smtpd_rcpt.c). Not with SANITIZE=1: sanitizers need the dynamic runtime.
LIBS_mailroom-smtpd   := $(STATIC) $(CDB) $(SKA)
LIBS_mailroom-newcontrol := $(CDB) $(SKA)
LIBS_mailroom-qstat   := $(CDB) $(SKA)
LIBS_mailroom-qread   := $(CDB) $(SKA)
LIBS_mailroom-qctl    := $(CDB) $(SKA)
LIBS_mailroom-qcheck  := $(CDB) $(SKA)
# showctl checks smtproutes with mailroom-remote's own parser (build/remote.a, libc only)
LIBS_mailroom-showctl := build/remote.a $(CDB) $(SKA)
build/bin/mailroom-showctl: build/remote.a
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
# mailroom-fetch (fetch/) injects through sendmail's path, queue/inject_qq.c: queue's
# archive, then lib's again for what inject_qq.o needs from it; libtls for POP3S and STLS.
LIBS_mailroom-fetch   := build/queue.a build/libmr.a -ltls $(SKA)
# DKIM (issue 16): the signer and the key tool are the only programs on libcrypto itself
# (send/dkim_crypto.c); nm shows no global symbol of it shared with skalibs.
LIBS_mailroom-dkimsign := build/libmr.a -lcrypto $(SKA)
LIBS_mailroom-dkimkey  := build/libmr.a -lcrypto $(SKA)

FOLDERS := queue send local smtpd pop3d remote fetch
PROGS := $(notdir $(basename $(foreach f,$(FOLDERS),$(wildcard $(f)/mailroom-*.c))))
BINS := $(addprefix build/bin/,$(PROGS)) build/bin/sendmail build/bin/mailq

LIB_SRC := $(wildcard lib/*.c)
LIB_OBJ := $(patsubst lib/%.c,build/obj/lib/%.o,$(LIB_SRC)) build/obj/auto_home.o
mods = $(filter-out $(1)/mailroom-%.c,$(wildcard $(1)/*.c))
ALL_SRC := $(LIB_SRC) $(foreach f,$(FOLDERS),$(wildcard $(f)/*.c)) $(wildcard TESTS/unit/*.c)

.PHONY: all deps setup run check unit clean relink print-libs fuzz fuzz-build fuzz-run fuzz-merge FORCE
all: build/.deps $(BINS)

build/.deps: lib/sh/deps.sh
	@bash lib/sh/deps.sh
	@mkdir -p build && touch $@

deps:
	@bash lib/sh/deps.sh

# The compiled-in home: rewritten only when it changes, so a rebuild is as small as it can be.
# The temporary file is per process: two `make relink` at once (TESTS/torture.py sets up two
# instances side by side) must not remove each other's.
build/auto_home.c: FORCE
	@mkdir -p build
	@t=$@.new.$$$$; printf 'char const auto_home[] = "%s";\n' '$(HOME_DIR)' > $$t && \
	  if cmp -s $$t $@; then rm -f $$t; else mv -f $$t $@; fi

# The flags every object and binary is made with, rewritten only when they change: switching
# between `make` and `make SANITIZE=1` (or another CC or CFLAGS) rebuilds what they touch,
# instead of linking release objects with sanitized ones.
# build/fuzz/.flags and build/bench/.flags do the same for the fuzz targets and bench tools,
# whose flags do not depend on SANITIZE.
# The temporary file is per process, as for auto_home.c: tests run `make relink` side by side.
stamp = @mkdir -p $(dir $(1)) && t=$(1).new.$$$$ && printf '%s\n' '$(2)' > $$t && \
  if cmp -s $$t $(1); then rm -f $$t; else mv -f $$t $(1); fi
build/.flags: FORCE
	$(call stamp,$@,CC=$(CC) CFLAGS=$(ALL_CFLAGS) LDFLAGS=$(LDFLAGS) SANLOG=$(if $(SAN_OBJ),$(SANLOG)))

build/obj/auto_home.o: build/auto_home.c build/.flags
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

build/obj/sanopts.o: TESTS/sanitize/sanopts.c build/.flags
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -DMR_SANLOG='"$(SANLOG)"' -c -o $@ $<

build/obj/%.o: %.c build/.deps build/.flags
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

build/obj/remote/%.o: ALL_CFLAGS += $(OWFAT_INC)

build/libmr.a: $(LIB_OBJ)
	@rm -f $@; ar rcs $@ $^

define folder_rules
build/$(1).a: $(patsubst %.c,build/obj/%.o,$(call mods,$(1))) build/obj/lib/.keep
	@rm -f $$@; ar rcs $$@ $$(filter %.o,$$^)
build/bin/%: build/obj/$(1)/%.o build/$(1).a build/libmr.a $(SAN_OBJ) build/.flags
	@mkdir -p build/bin
	$$(CC) $$(LDFLAGS) -o $$@ $$< $(SAN_OBJ) build/$(1).a build/libmr.a $$(LIBS_$$*)
endef
$(foreach f,$(FOLDERS),$(eval $(call folder_rules,$(f))))
build/obj/lib/.keep:
	@mkdir -p $(dir $@) && touch $@

build/bin/sendmail: | build/.deps
	@mkdir -p build/bin && ln -sf mailroom-inject $@
build/bin/mailq: | build/.deps
	@mkdir -p build/bin && ln -sf mailroom-qread $@

build/bin/mailroom-fetch: build/queue.a

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
	  $(CC) $(LDFLAGS) -o '$(RELINK_OUT)'/$$p build/obj/$$f/$$p.o $(SAN_OBJ) build/$$f.a '$(RELINK_OUT)/libmr.a' $$(make -s --no-print-directory print-libs P=$$p) || exit 1; done; done
	@ln -sf mailroom-inject '$(RELINK_OUT)/sendmail'
	@ln -sf mailroom-qread '$(RELINK_OUT)/mailq'

print-libs:
	@echo '$(LIBS_$(P))'

# --- unit tests: each TESTS/unit/test_X.c links every folder archive and lib ---------------
UNIT_SRC := $(wildcard TESTS/unit/test_*.c)
UNIT_BINS := $(patsubst TESTS/unit/%.c,build/test/%,$(UNIT_SRC))
FOLDER_ARCHIVES := $(foreach f,$(FOLDERS),build/$(f).a)
build/test/%: build/obj/TESTS/unit/%.o $(FOLDER_ARCHIVES) build/libmr.a $(SAN_OBJ) build/.flags
	@mkdir -p build/test
	$(CC) $(LDFLAGS) -o $@ $< $(SAN_OBJ) $(FOLDER_ARCHIVES) build/libmr.a $(CDB) $(SKA)

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
build/fuzz/.flags: FORCE
	$(call stamp,$@,CC=$(FUZZ_CC) CFLAGS=$(FUZZ_FLAGS) LIBS=$(CDB) $(SKA))
build/fuzz/obj/%.o: %.c build/.deps build/fuzz/.flags
	@mkdir -p $(dir $@)
	@$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<
build/fuzz/obj/remote/%.o: FUZZ_FLAGS += $(OWFAT_INC)
build/fuzz/obj/auto_home.o: build/auto_home.c build/fuzz/.flags
	@mkdir -p $(dir $@)
	@$(FUZZ_CC) $(FUZZ_FLAGS) -c -o $@ $<
build/fuzz/mods.a: $(FUZZ_MOD_OBJ)
	@rm -f $@; ar rcs $@ $^
build/fuzz/%: TESTS/fuzz/%.c TESTS/fuzz/fuzz.h build/fuzz/mods.a build/fuzz/.flags
	@$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer -o $@ $< build/fuzz/mods.a $(CDB) $(SKA)
fuzz-build: all $(FUZZ_BINS)
# FUZZ_ONLY="a b" runs only those targets; each run appends a line to TESTS/fuzz/RUNLOG.
# fuzz-run runs without building first (for runs that go on while the tree is edited).
FUZZ_ONLY ?= $(patsubst build/fuzz/fuzz_%,%,$(FUZZ_BINS))
fuzz: fuzz-build
	@$(MAKE) --no-print-directory fuzz-run
fuzz-run:
	@for n in $(FUZZ_ONLY); do bash TESTS/fuzz/run.sh $$n $(FUZZ_SECONDS) || exit 1; done
# Adds to TESTS/fuzz/NAME the inputs of the grown corpus that reach new coverage (libFuzzer
# -merge=1), so the committed corpus stays small for `make check`'s replay.
fuzz-merge:
	@mkdir -p build/fuzz/logs; for n in $(FUZZ_ONLY); do mkdir -p build/fuzz/corpus/$$n; \
	  nice -n 19 build/fuzz/fuzz_$$n -merge=1 -use_counters=0 -timeout=10 -rss_limit_mb=2048 TESTS/fuzz/$$n build/fuzz/corpus/$$n \
	    >build/fuzz/logs/merge-$$n.log 2>&1 || { tail -n 5 build/fuzz/logs/merge-$$n.log; exit 1; }; \
	  echo "fuzz-merge: $$n: $$(ls TESTS/fuzz/$$n | wc -l) files, $$(cat TESTS/fuzz/$$n/* | wc -c) bytes"; done

# --- the instance ---------------------------------------------------------------------------
setup: all
	@bash lib/sh/setup.sh '$(HOME_DIR)'

run: setup
	@bash lib/sh/run.sh '$(HOME_DIR)'

check: all $(UNIT_BINS) $(FUZZ_BINS)
	@MRTEST_SANITIZE=$(SANITIZE) MRTEST_SANLOG=$(if $(SAN_OBJ),$(SANLOG)) bash TESTS/run.sh

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
# built into build/bench with the release flags of the programs (-O2, no sanitizers, even
# in a SANITIZE=1 tree).
BENCH_TOOLS := $(patsubst bench/%.c,build/bench/%,$(wildcard bench/*.c))
build/bench/.flags: FORCE
	$(call stamp,$@,CC=$(RELEASE_CC) CFLAGS=$(RELEASE_CFLAGS))
build/bench/%: bench/%.c build/bench/.flags
	@mkdir -p build/bench
	$(RELEASE_CC) $(RELEASE_CFLAGS) -pthread -o $@ $< $(BENCH_LDFLAGS)
# static: the RSS before its child's exec counts in the child's peak (bench/peakrss.c)
build/bench/peakrss: BENCH_LDFLAGS := -static
# --- the crash test (issue 7): `make torture` is the long run (>= 200 SIGKILLs, a few
# minutes); `make check` runs a short one (TESTS/test_torture.py). TORTURE_ARGS, e.g.
# "--seconds 300 --kills 400", or TORTURE_SECONDS/KILLS/MESSAGES/DRAIN in the environment.
.PHONY: torture
torture: all
	@python3 -u TESTS/torture.py $(TORTURE_ARGS)

.PHONY: bench
bench: all $(BENCH_TOOLS)
	@bash bench/deps.sh
	@test "$(SANITIZE)" != 1 || { echo "bench: not with SANITIZE=1 (figures need the release build)" >&2; exit 100; }
	@COMPARE='$(COMPARE)' python3 -u bench/run.py
