# mk/c.mk: the C ABI (libpolyraft, include/polyraft.h, tests/c).
# Included by the root Makefile; run from the repository root.
#
#   make test-c            build libpolyraft, check the header for drift, run
#                          the C tests (plain, ASan+UBSan, valgrind, and
#                          against the release library) and build and run
#                          tests/c/example.c through pkg-config
#   make header            regenerate include/polyraft.h (commit the result)
#   make polyraft.pc       target/polyraft.pc for using the build tree
#   make install-c PREFIX=/usr/local
#                          install the release library, header and .pc file

CARGO ?= cargo
CC ?= cc
CXX ?= c++
PKG_CONFIG ?= pkg-config
VALGRIND ?= valgrind
PREFIX ?= /usr/local

C_ROOT := $(CURDIR)
C_TARGET := $(C_ROOT)/target
C_LIBDIR := $(C_TARGET)/debug
C_OUT := $(C_TARGET)/c-tests
C_VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' $(C_ROOT)/Cargo.toml | head -n 1)
C_WARN := -Wall -Wextra -Wswitch-enum -Werror -pedantic
C_CFLAGS := -std=c99 $(C_WARN) -g -I$(C_ROOT)/include
C_LDFLAGS := -L$(C_LIBDIR) -Wl,-rpath,$(C_LIBDIR) -lpolyraft
C_SANITIZE := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
# hostile: the hostile and broken input of issue 15 (one test per reproducer).
# host, host_misuse: the host (issue 20): a 3-host cluster, and its misuse.
C_TESTS := cluster misuse durable hostile host host_misuse
C_RELEASE_LIBDIR := $(C_TARGET)/release
C_VALGRIND_FLAGS := --quiet --error-exitcode=99 --leak-check=full \
	--show-leak-kinds=definite,indirect,possible \
	--errors-for-leak-kinds=definite,indirect,possible \
	--suppressions=$(C_ROOT)/tests/c/valgrind.supp --suppressions=$(C_OUT)/ring-sendmsg.supp

# The static library's system dependencies (rustc --print native-static-libs).
C_STATIC_LIBS := -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc

.PHONY: test-c header install-c polyraft.pc c-rust-tests c-lib c-header-check c-header-compile c-tests c-tests-asan c-tests-valgrind c-tests-release c-example

## test-c: the C ABI: header drift check, C tests plain, under ASan+UBSan,
## under valgrind and against the release library, and the README example
## through pkg-config.
# The steps run in this order (each depends on the one before).
test-c: c-rust-tests c-header-check c-header-compile c-tests c-tests-asan c-tests-valgrind c-tests-release c-example
	@echo "test-c: all C tests passed (plain, ASan+UBSan, valgrind, release, example shared and static)"

# The panic boundary's own tests (a panic cannot be provoked from C).
c-rust-tests:
	$(CARGO) test -p polyraft-ffi

c-lib:
	$(CARGO) build -p polyraft-ffi

## header: regenerate include/polyraft.h from ffi/src with cbindgen.
header:
	POLYRAFT_UPDATE_HEADER=1 $(CARGO) build -p polyraft-ffi
	@echo "include/polyraft.h regenerated"

# The build writes the freshly generated header to target/debug/polyraft.h;
# it must be identical to the committed one.
c-header-check: c-lib
	@if cmp -s $(C_LIBDIR)/polyraft.h $(C_ROOT)/include/polyraft.h; then \
		echo "include/polyraft.h is up to date"; \
	else \
		echo "include/polyraft.h differs from the generated header (run 'make header' and commit it):"; \
		diff -u $(C_ROOT)/include/polyraft.h $(C_LIBDIR)/polyraft.h | head -n 60; \
		exit 1; \
	fi

$(C_OUT):
	mkdir -p $@

# The header alone compiles warning-free as C99 and as C++17.
c-header-compile: c-header-check | $(C_OUT)
	@printf '#include "polyraft.h"\nint main(void) { return polyraft_version_number() != POLYRAFT_VERSION_NUMBER; }\n' \
		> $(C_OUT)/header.c
	$(CC) -std=c99 $(C_WARN) -I$(C_ROOT)/include -fsyntax-only -x c $(C_OUT)/header.c
	$(CXX) -std=c++17 $(C_WARN) -I$(C_ROOT)/include -fsyntax-only -x c++ $(C_OUT)/header.c
	@echo "include/polyraft.h compiles warning-free as C99 and C++17"

c-tests: c-lib c-header-check | $(C_OUT)
	@set -e; for t in $(C_TESTS); do \
		echo "== $$t"; \
		$(CC) $(C_CFLAGS) $(C_ROOT)/tests/c/$$t.c -o $(C_OUT)/$$t $(C_LDFLAGS); \
		$(C_OUT)/$$t; \
	done

c-tests-asan: c-lib c-tests | $(C_OUT)
	@set -e; for t in $(C_TESTS); do \
		echo "== $$t (ASan+UBSan)"; \
		$(CC) $(C_CFLAGS) $(C_SANITIZE) $(C_ROOT)/tests/c/$$t.c -o $(C_OUT)/$$t-asan $(C_LDFLAGS); \
		ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
			$(C_OUT)/$$t-asan; \
	done

# The sendmsg half of tests/c/valgrind.supp's ring entry. valgrind matches
# a Param suppression's name exactly (no wildcards), and a sendmsg error
# names the iovec slot: one entry per slot that rustls fills (it writes at
# most 64 records in one vectored write).
$(C_OUT)/ring-sendmsg.supp: | $(C_OUT)
	@for i in $$(seq 0 63); do \
	  printf '{\n   ring-aead-sealed-record-sendmsg-%s\n   Memcheck:Param\n   sendmsg(msg.msg_iov[%s])\n   fun:*sendmsg\n   ...\n   fun:*QuietTcp*poll_write_vectored*\n}\n' $$i $$i; \
	done > $@

c-tests-valgrind: c-tests c-tests-asan $(C_OUT)/ring-sendmsg.supp
	@set -e; for t in $(C_TESTS); do \
		echo "== $$t (valgrind)"; \
		$(VALGRIND) $(C_VALGRIND_FLAGS) $(C_OUT)/$$t; \
	done

# The same tests against the release library: overflow checks are off
# there, so an unchecked computation wraps instead of panicking, and the
# answers must be the same as in the debug build.
c-tests-release: c-tests-valgrind | $(C_OUT)
	$(CARGO) build --release -p polyraft-ffi
	@set -e; for t in $(C_TESTS); do \
		echo "== $$t (release library)"; \
		$(CC) $(C_CFLAGS) $(C_ROOT)/tests/c/$$t.c -o $(C_OUT)/$$t-release \
			-L$(C_RELEASE_LIBDIR) -Wl,-rpath,$(C_RELEASE_LIBDIR) -lpolyraft; \
		$(C_OUT)/$$t-release; \
	done

## polyraft.pc: a pkg-config file for the build tree (target/polyraft.pc).
polyraft.pc: $(C_TARGET)/polyraft.pc

$(C_TARGET)/polyraft.pc: $(C_ROOT)/ffi/polyraft.pc.in $(C_ROOT)/Cargo.toml
	@mkdir -p $(C_TARGET)
	sed -e 's|@PREFIX@|$(C_ROOT)|' -e 's|@INCLUDEDIR@|$(C_ROOT)/include|' \
		-e 's|@LIBDIR@|$(C_LIBDIR)|' -e 's|@VERSION@|$(C_VERSION)|' \
		-e 's|@RPATH@|-Wl,-rpath,$${libdir} |' $< > $@

# The README example, compiled the way a C user would: through pkg-config.
c-example: c-lib c-tests-release $(C_TARGET)/polyraft.pc | $(C_OUT)
	@echo "== example (pkg-config)"
	$(CC) -std=c99 -Wall -Wextra -Werror -pedantic $(C_ROOT)/tests/c/example.c -o $(C_OUT)/example \
		$$(PKG_CONFIG_PATH=$(C_TARGET) $(PKG_CONFIG) --cflags --libs polyraft)
	$(C_OUT)/example
	@echo "== example (static library)"
	$(CC) -std=c99 -Wall -Wextra -Werror -pedantic -I$(C_ROOT)/include $(C_ROOT)/tests/c/example.c \
		-o $(C_OUT)/example-static $(C_LIBDIR)/libpolyraft.a $(C_STATIC_LIBS)
	$(C_OUT)/example-static

## install-c: install libpolyraft (release), polyraft.h and polyraft.pc
## under PREFIX (default /usr/local); DESTDIR is honoured.
install-c:
	$(CARGO) build --release -p polyraft-ffi
	install -d $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 644 $(C_ROOT)/include/polyraft.h $(DESTDIR)$(PREFIX)/include/polyraft.h
	install -m 755 $(C_TARGET)/release/libpolyraft.so $(DESTDIR)$(PREFIX)/lib/libpolyraft.so
	install -m 644 $(C_TARGET)/release/libpolyraft.a $(DESTDIR)$(PREFIX)/lib/libpolyraft.a
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@INCLUDEDIR@|$(PREFIX)/include|' \
		-e 's|@LIBDIR@|$(PREFIX)/lib|' -e 's|@VERSION@|$(C_VERSION)|' -e 's|@RPATH@||' \
		$(C_ROOT)/ffi/polyraft.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/polyraft.pc
