#!/usr/bin/env node
// The `ipamctl` command, built into dist/ by the package's build. This file is in the source
// tree so that the command exists (and a workspace install can link it) before the first build.
import "../dist/main.js";
