"""Prefix listings on Azurite through sim/bin/azurite-blob.js, which answers a prefix from the
blob-name index instead of a scan: the same blobs, in the same order, with the same pages,
delimiter prefixes and markers as a listing that filters every name."""
import xml.etree.ElementTree as ET

from drsim.blob import BLOBS, parse_url

NAMES = ["t1/_delta_log/00.json", "t1/_delta_log/01.json", "t1/part-0.parquet", "t1-x/a", "t10/_delta_log/00.json",
         "t1\u00e9/a", "t2/a", "u/a", "t1"]


def _list(loc, **q):
    r = BLOBS._req("GET", loc.account, loc.container, "", query=dict(restype="container", comp="list", **q))
    assert r.status_code == 200, r.text
    root = ET.fromstring(r.content)
    return ([b.findtext("Name") for b in root.iter("Blob")],
            [p.findtext("Name") for p in root.iter("BlobPrefix")], root.findtext("NextMarker") or "")


def test_prefix_listing_matches_a_full_filter(sim):
    loc = parse_url("abfss://listing@drsimlisting.dfs.core.windows.net/")
    BLOBS.ensure_container(loc.account, loc.container)
    for n in NAMES:
        BLOBS.put(loc, n, b"x")
    everything, _, _ = _list(loc)
    assert everything == sorted(NAMES)
    for prefix in ("t1", "t1/", "t1/_delta_log/01", "t1/_delta_log/02", "t1-", "t10", "t", "v", "t1\u00e9"):
        got, _, _ = _list(loc, prefix=prefix)
        assert got == [n for n in sorted(NAMES) if n.startswith(prefix)], prefix
    got, prefixes, _ = _list(loc, prefix="t1/", delimiter="/")
    assert got == ["t1/part-0.parquet"] and prefixes == ["t1/_delta_log/"]
    got, prefixes, _ = _list(loc, prefix="t", delimiter="/")
    assert got == ["t1"] and prefixes == ["t1-x/", "t1/", "t10/", "t1\u00e9/", "t2/"]
    pages, marker = [], ""
    while True:
        got, _, marker = _list(loc, prefix="t1", maxresults="2", **({"marker": marker} if marker else {}))
        pages.append(got)
        if not marker:
            break
    assert [n for p in pages for n in p] == [n for n in sorted(NAMES) if n.startswith("t1")]
    assert all(len(p) <= 2 for p in pages) and len(pages) >= 3
