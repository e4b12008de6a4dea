#!/usr/bin/env node
// The `ipamd-cni` command of a package install: the launcher built into dist/. This file is in
// the source tree so that the command exists (and a workspace install can link it) before the
// first build. A container runtime runs dist/main.cjs itself (scripts/install-plugin.sh).
"use strict";
require("../dist/main.cjs");
