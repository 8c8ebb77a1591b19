#!/usr/bin/env python3
"""The short crash test for `make check`: TESTS/torture.py (the engine, see there) with a
small budget: about 45 s of injections through SMTP and sendmail while every program of
the list is SIGKILLed at least 5 times (35 kills or more), then the queue must drain
(bounded at 120 s). `make torture` runs the long version (>= 200 kills). The budget can be
changed with TORTURE_SECONDS, TORTURE_KILLS, TORTURE_MESSAGES, TORTURE_DRAIN."""

import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torture  # noqa: E402

torture.main([], defaults=(45, 35, 0, 120))
