# progjar-lab — the two set-up commands are `make demo` and `make test`.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lab bench deps venv clean

# the C fast path is compiled by the install: a changed source must be built again
$(STAMP): pyproject.toml setup.py reporter/analyses/_fasttcp.c
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

ASSIGNMENTS := $(notdir $(patsubst %/,%,$(wildcard samples/*/)))

## demo: reports (HTML, PDF, JSON) for every bundled sample into reports/, one student's combined
## report over all Tugas 1 samples, and per assignment a class (each sample one student's hand-in)
## with its class page, gradebook, Moodle worksheet and a combined report per student
demo: $(STAMP)
	$(BIN)/progjar report samples/*/*.pcap* -o reports
	$(BIN)/progjar report samples/tugas1/*.pcap* -o reports/student --student "Contoh Mahasiswa / 5025211000"
	set -e; for a in $(ASSIGNMENTS); do $(BIN)/progjar batch samples/$$a -o reports/class/$$a --assignment $$a; done
	@echo "open reports/t4-serial.html (one capture), reports/student/contoh-mahasiswa-all.html (one student, all captures)"
	@echo "  or reports/class/tugas1/index.html (a class; each student's combined report is <student>/report.html)"

## deps: system packages the tests need (tshark, tcpdump, dnsmasq, lua, poppler) when root, and
## Wireshark 4.0/4.4/4.6 chroots for the plugin tests (cached in /var/cache/progjar-lab/wireshark)
deps:
	@PY=$(PY) bash .ci/deps.sh

## test: install what the tests need and run them
test: deps $(STAMP)
	$(BIN)/python -m pytest -q

## lab: rebuild the lab in network namespaces and regenerate samples/ (root)
lab: $(STAMP)
	set -e; for a in $(ASSIGNMENTS); do $(BIN)/progjar lab --assignment $$a --scenario all -o samples/$$a; done

## bench: speed and memory figures (ratios against tshark and a bare dpkt loop)
bench: deps $(STAMP)
	$(BIN)/python -m tests.bench.run

clean:
	rm -rf $(VENV) reports bench-out lab-out *.egg-info
