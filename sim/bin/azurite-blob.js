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

// Listing by prefix through the name index. Azurite's in-memory store (LokiJS) matches a prefix
// with a regular expression, which scans every blob of every account on each list call: the cost
// of one call grows with the store (measured: 2 ms at 2,000 blobs, 5 ms at 10,000), where Blob
// Storage serves a prefix from its index in time independent of the container's size. The same
// query as a range over the indexed name (every name that starts with the prefix sorts between the
// prefix and the prefix followed by U+FFFF) is answered from LokiJS's binary index; the rest of the
// listing (marker, snapshots, uncommitted blobs, delimiter pages, lease state) is unchanged.
const persistence = path.join(base, "blob", "persistence");
const Loki = require(path.join(persistence, "LokiBlobMetadataStore.js")).default;
const Page = require(path.join(persistence, "PageWithDelimiter.js")).default;
const Leases = require(path.join(base, "blob", "lease", "LeaseFactory.js")).default;
const LeaseAdapter = require(path.join(base, "blob", "lease", "BlobLeaseAdapter.js")).default;
const LeaseSyncer = require(path.join(base, "blob", "lease", "BlobLeaseSyncer.js")).default;
const defaults = require(path.join(base, "blob", "utils", "constants.js"));

Loki.prototype.listBlobs = async function (context, account, container, delimiter, blob, prefix = "",
  maxResults = defaults.DEFAULT_LIST_BLOBS_MAX_RESULTS, marker = "", includeSnapshots, includeUncommittedBlobs) {
  const query = {};   // the name first: LokiJS serves only the first term from an index
  if (blob !== undefined) query.name = blob;
  else if (prefix !== "") query.name = { $between: [prefix, prefix + "\uffff"] };
  if (account !== undefined) query.accountName = account;
  if (container !== undefined) query.containerName = container;
  const coll = this.db.getCollection(this.BLOBS_COLLECTION);
  const readPage = async (offset) => coll.chain().find(query)
    .where((o) => o.name > marker)
    .where((o) => includeSnapshots || o.snapshot.length === 0)
    .where((o) => includeUncommittedBlobs || o.isCommitted)
    .sort((a, b) => (a.name === b.name ? 0 : a.name > b.name ? 1 : -1))
    .offset(offset).limit(maxResults).data();
  const page = new Page(maxResults, delimiter, prefix);
  const [items, prefixes, next] = await page.fill(readPage, (item) => item.name);
  return [items.map((doc) => {
    doc.properties.contentMD5 = this.restoreUint8Array(doc.properties.contentMD5);
    return Leases.createLeaseState(new LeaseAdapter(doc), context).sync(new LeaseSyncer(doc));
  }), prefixes, next];
};

require(path.join(base, "blob", "main.js"));
