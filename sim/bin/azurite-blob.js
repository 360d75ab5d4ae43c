#!/usr/bin/env node
// Azurite's blob service with storage accounts that can be added while it runs.
//
// Azurite reads its accounts ("name:key;name:key") from AZURITE_ACCOUNTS at start and again once
// a minute. The simulator creates storage accounts whenever a deployment asks for them, so this
// launcher also reads the file named by DRSIM_AZURITE_ACCOUNTS_FILE (one "name:key" per line)
// whenever a request names an account Azurite does not know yet, then hands over to Azurite's own
// entry point with the same command line.
"use strict";
const fs = require("fs");
const path = require("path");

const base = path.join(__dirname, "..", "node_modules", "azurite", "dist", "src");
const Store = require(path.join(base, "common", "AccountDataStore.js")).default;
const fixed = process.env.AZURITE_ACCOUNTS || "";
const file = process.env.DRSIM_AZURITE_ACCOUNTS_FILE;

const lookup = Store.prototype.getAccount;
Store.prototype.getAccount = function (name) {
  let found = lookup.call(this, name);
  if (found === undefined && file) {
    let extra = "";
    try {
      extra = fs.readFileSync(file, "utf8").split("\n").map((l) => l.trim()).filter(Boolean).join(";");
    } catch (e) {
      return undefined;
    }
    process.env.AZURITE_ACCOUNTS = [fixed, extra].filter(Boolean).join(";");
    this.refresh();
    found = lookup.call(this, name);
  }
  return found;
};

require(path.join(base, "blob", "main.js"));
