# Install postkick and postkickd with their units (postkickd.service and
# the instances' postkickd@.service), init script, rules and man pages.
#   make && sudo make install            # below /usr/local
#   make install PREFIX=/usr DESTDIR=pkg # staged, for packaging
# An existing /etc/postkick/rules.yaml or /etc/init.d/postkickd is never
# overwritten.

PREFIX ?= /usr/local
DESTDIR ?=
SBINDIR = $(PREFIX)/sbin
MANDIR = $(PREFIX)/share/man
UNITDIR = $(PREFIX)/lib/systemd/system
SYSCONFDIR ?= /etc
CARGO ?= cargo
RELEASE = target/release
# The installed paths, in what is installed beside the binaries.
PATHS = s|/usr/sbin/postkickd|$(SBINDIR)/postkickd|g; s|/etc/postkick/|$(SYSCONFDIR)/postkick/|g

.PHONY: all install uninstall
all:
	$(CARGO) build --release --locked

# Replacing Postfix's own /usr/sbin/postkick on a live system without a
# diversion would be undone (or fought over) by the next postfix upgrade:
# refuse, and say what to do instead.
install: all
	@if [ -z "$(DESTDIR)" ] && [ -e "$(SBINDIR)/postkick" ] \
		&& dpkg -S "$(SBINDIR)/postkick" 2>/dev/null | grep -q '^postfix' \
		&& [ "$$(dpkg-divert --truename $(SBINDIR)/postkick)" = "$(SBINDIR)/postkick" ]; then \
		echo "make install: $(SBINDIR)/postkick belongs to the postfix package; install the .deb (it diverts Postfix's copy), use PREFIX=/usr/local, or divert it first: dpkg-divert --local --rename --add $(SBINDIR)/postkick" >&2; \
		exit 1; \
	fi
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSCONFDIR)/postkick \
		$(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8
	install -m 0755 $(RELEASE)/postkick $(RELEASE)/postkickd $(DESTDIR)$(SBINDIR)/
	for unit in postkickd.service postkickd@.service; do \
		sed '$(PATHS)' systemd/$$unit > $(DESTDIR)$(UNITDIR)/$$unit && \
		chmod 0644 $(DESTDIR)$(UNITDIR)/$$unit || exit 1; \
	done
	install -d $(DESTDIR)$(SYSCONFDIR)/init.d
	test -e $(DESTDIR)$(SYSCONFDIR)/init.d/postkickd || { \
		sed '$(PATHS)' init.d/postkickd > $(DESTDIR)$(SYSCONFDIR)/init.d/postkickd && \
		chmod 0755 $(DESTDIR)$(SYSCONFDIR)/init.d/postkickd; }
	test -e $(DESTDIR)$(SYSCONFDIR)/postkick/rules.yaml || \
		install -m 0644 rules.default.yaml $(DESTDIR)$(SYSCONFDIR)/postkick/rules.yaml
	install -d $(DESTDIR)$(PREFIX)/share/doc/postkick $(DESTDIR)$(PREFIX)/share/postkick
	install -m 0644 rules.example.yaml $(DESTDIR)$(PREFIX)/share/doc/postkick/
	install -m 0644 prometheus/postkickd.rules.yml prometheus/postkickd.rules.test.yml \
		$(DESTDIR)$(PREFIX)/share/postkick/
	install -m 0644 man/postkick.1 $(DESTDIR)$(MANDIR)/man1/
	install -m 0644 man/postkick-rules.5 $(DESTDIR)$(MANDIR)/man5/
	install -m 0644 man/postkickd.8 $(DESTDIR)$(MANDIR)/man8/

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/postkick $(DESTDIR)$(SBINDIR)/postkickd \
		$(DESTDIR)$(UNITDIR)/postkickd.service $(DESTDIR)$(UNITDIR)/postkickd@.service \
		$(DESTDIR)$(MANDIR)/man1/postkick.1 $(DESTDIR)$(MANDIR)/man5/postkick-rules.5 \
		$(DESTDIR)$(MANDIR)/man8/postkickd.8 \
		$(DESTDIR)$(PREFIX)/share/doc/postkick/rules.example.yaml \
		$(DESTDIR)$(PREFIX)/share/postkick/postkickd.rules.yml \
		$(DESTDIR)$(PREFIX)/share/postkick/postkickd.rules.test.yml
